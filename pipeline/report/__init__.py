"""Stage ``report``: what the pipeline made, for a researcher to look at before training.

    python -m pipeline.report --dataset cefa [--root DIR] [--manifests DIR] [--shards DIR] [--out DIR]
                              [--per-type N] [--params FILE]

Writes into ``<out>`` (default ``reports/<dataset>``): ``sheets/<attack type>.png`` (per attack type, a
grid of samples, every modality's static crop beside its dynamic image, labelled with the recording
id), ``sheets/rejects.png`` (first frames of rejected recordings with their reasons), ``plots/*.png``
(frame counts, frame sizes, crop sizes) and ``report.html``, one self-contained page with the counts per
attribute and per protocol split, frame sizes and pairing, the plots and the sheets. Paths default to
``params.yaml`` (section ``shard``; the raw root from the ``raw`` mapping).
"""
from __future__ import annotations

from .build import ReportConfig, ReportResult, build_report, sample_tiles

__all__ = ["ReportConfig", "ReportResult", "build_report", "sample_tiles"]
