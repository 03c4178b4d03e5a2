"""Synthesise a small raw PAD dataset in the official on-disk layout (no download needed).

    python -m pipeline.demo --dataset cefa --out data/demo/cefa --size small --seed 0

* :mod:`.layouts` — which recordings each dataset and release holds, named and filed as there;
* :mod:`.render` — the pixels: one real photograph, moved and dressed up as live face or attack;
* :mod:`.crops` — CeFA and CASIA-SURF frames cut out per frame and per stream, as those releases did;
* :mod:`.video` — long-GOP H.264 with B-frames through ffmpeg (``--size full``; MSU-MFSD, with a phone's
  display rotation where the release has one);
* :mod:`.lists` — the official protocol lists in each dataset's own format;
* :mod:`.write` — :func:`generate`, which writes it all.
"""
from __future__ import annotations

from .layouts import RELEASES, SIZES
from .write import DemoRecording, generate
from ..datasets import DATASETS

__all__ = ["DATASETS", "RELEASES", "SIZES", "DemoRecording", "generate"]
