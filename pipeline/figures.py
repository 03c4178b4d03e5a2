"""Matplotlib figures as PNG bytes, reproducibly: for the report's plots and for training's ROC/DET curves."""
from __future__ import annotations

import io
from typing import Any


def figure_png(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes, without the version string: the same plot gives the same bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
