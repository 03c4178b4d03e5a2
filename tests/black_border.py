"""The baseline a black-border window is measured against: one box for the whole window, what a recording
whose frames share one pixel grid gets."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pipeline import faces


def window_box(frames: Iterable[np.ndarray]) -> faces.Box:
    """The smallest box holding the foreground of every frame (frames of any sizes, in their own pixels)."""
    extents = [faces.mask_extent(faces.foreground(frame)) for frame in frames]
    boxes = [extent.box for extent in extents if extent is not None]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
