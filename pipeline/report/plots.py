"""The report's distribution plots (matplotlib, Agg: no display needed), as PNG bytes."""
from __future__ import annotations

import numpy as np

from ..figures import figure_png

FIGSIZE, DPI = (6.4, 3.2), 100


def histogram_png(series: dict[str, np.ndarray], title: str, xlabel: str) -> bytes:
    """Overlaid step histograms of ``series`` (label → values) on shared bins."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    axes = figure.subplots()
    values = [np.asarray(v, dtype=float) for v in series.values() if len(v)]
    if values:
        low, high = min(v.min() for v in values), max(v.max() for v in values)
        bins = _bins(low, high)
        for label, data in series.items():
            if len(data):
                axes.hist(np.asarray(data, dtype=float), bins=bins.tolist(), histtype="step", linewidth=1.6,
                          label=f"{label} (n={len(data)})")
        axes.legend(fontsize="small")
    else:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    axes.set(title=title, xlabel=xlabel, ylabel="count")
    return figure_png(figure)


def _bins(low: float, high: float) -> np.ndarray:
    """Unit-wide bins for small integer ranges (frame counts of a demo), else 30 equal bins."""
    if high - low < 1:
        return np.array([low - 0.5, high + 0.5])
    if float(low).is_integer() and float(high).is_integer() and high - low <= 60:
        return np.arange(low - 0.5, high + 1.5)
    return np.linspace(low, high, 31)
