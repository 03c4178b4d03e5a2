"""ROC and DET curves as PNG (matplotlib, Agg), dev and test overlaid, with the dev-chosen operating point.

The operating point of a split is where the threshold chosen on dev puts it (pooled APCER, BPCER), so
the test marker shows what that threshold does to unseen data. DET axes use the normal-deviate scale
of ISO/IEC 19795-1; rates of 0 or 1 are drawn at the edge of the axis (``DET_LIMITS``).
"""
from __future__ import annotations

import logging
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from pipeline.figures import figure_png
from pipeline.io import write_bytes_atomic

from .metrics import det_points, pad_metrics, plottable_splits, roc_points

log = logging.getLogger(__name__)

FIGSIZE, DPI = (6.0, 4.5), 100
DET_LIMITS = (1e-3, 1 - 1e-3)
DET_TICKS = (0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99)
COLOURS = {"dev": "tab:blue", "test": "tab:orange"}


def operating_point(table: pd.DataFrame, threshold: float) -> tuple[float, float]:
    """(APCER pooled over all attacks, BPCER) of ``table`` at ``threshold``."""
    metrics = pad_metrics(table["score"], table["is_bonafide"], table["attack_type"], threshold)
    return metrics["apcer"], metrics["bpcer"]


def probit(rates) -> np.ndarray:
    """Normal deviate of each rate, clipped to ``DET_LIMITS`` so that 0 and 1 stay on the axes."""
    inverse = NormalDist().inv_cdf
    return np.array([inverse(float(r)) for r in np.clip(np.asarray(rates, dtype=float), *DET_LIMITS)])


def curve_figure(kind: str, splits: dict[str, pd.DataFrame], threshold: float):
    """A ``roc`` or ``det`` figure of ``splits`` (name → score table); each split's operating point at
    ``threshold`` is a marker whose ``gid`` is ``operating-point-<split>``."""
    from matplotlib.figure import Figure

    if kind not in ("roc", "det"):
        raise ValueError(f"unknown curve {kind!r}: expected 'roc' or 'det'")
    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    axes = figure.subplots()
    for name, table in splits.items():
        colour = COLOURS.get(name)
        apcer, bpcer = operating_point(table, threshold)
        if kind == "roc":
            points = roc_points(table["score"], table["is_bonafide"])
            axes.plot(points["fpr"], points["tpr"], color=colour, label=f"{name} ({len(table)} videos)")
            x, y = apcer, 1 - bpcer
        else:
            points = det_points(table["score"], table["is_bonafide"])
            axes.plot(probit(points["apcer"]), probit(points["bpcer"]), color=colour,
                      label=f"{name} ({len(table)} videos)")
            x, y = probit([apcer])[0], probit([bpcer])[0]
        label = f"{name} at dev threshold: APCER (pooled) {apcer:.3f}, BPCER {bpcer:.3f}"
        axes.plot([x], [y], marker="o", markersize=9, linestyle="none", color=colour, markeredgecolor="black",
                  gid=f"operating-point-{name}", label=label)
    _style(axes, kind, threshold)
    return figure


def _style(axes, kind: str, threshold: float) -> None:
    if kind == "roc":
        axes.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="APCER (pooled) = FPR", ylabel="1 - BPCER = TPR",
                 title=f"ROC (threshold {threshold:.4g} chosen on dev)")
        axes.plot([0, 1], [0, 1], color="0.8", linewidth=0.8, zorder=0)
    else:
        ticks, labels = probit(DET_TICKS), [f"{100 * t:g}%" for t in DET_TICKS]
        limits = (probit([DET_LIMITS[0]])[0] - 0.1, probit([DET_LIMITS[1]])[0] + 0.1)
        axes.set(xlim=limits, ylim=limits, xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels,
                 xlabel="APCER (pooled)", ylabel="BPCER", title=f"DET (threshold {threshold:.4g} chosen on dev)")
    axes.grid(True, color="0.9")
    axes.legend(fontsize="small", loc="lower right" if kind == "roc" else "upper right")


def write_curve_plots(dev: pd.DataFrame, test: pd.DataFrame, threshold: float, out_dir: Path) -> dict[str, Path]:
    """``roc.png`` and ``det.png`` in ``out_dir``, of the splits that have both classes."""
    splits = plottable_splits(dev, test)
    if not splits:
        log.warning("no split has both bona fide and attack videos: no ROC/DET plots")
        return {}
    paths = {}
    for kind in ("roc", "det"):
        paths[kind] = Path(out_dir) / f"{kind}.png"
        # every torchrun rank writes the same file, so each write is atomic
        write_bytes_atomic(figure_png(curve_figure(kind, splits, threshold)), paths[kind])
    log.info("ROC and DET plots written to %s", out_dir)
    return paths
