"""Which frames each sample reads: W windows of K consecutive frames spread over a recording."""
from __future__ import annotations

import numpy as np


def plan_windows(n_frames: int, length: int, count: int, frame_limit: int | None = None) -> list[np.ndarray]:
    """Frame indices of up to ``count`` windows of ``length`` consecutive frames.

    Windows start at evenly spaced positions over the usable frames (the first ``frame_limit`` when a
    protocol restricts them), so they cover the whole recording; in a short recording they overlap,
    one with fewer than ``length + count - 1`` frames yields fewer windows, and one shorter than
    ``length`` yields none.
    """
    if length < 1 or count < 1:
        raise ValueError(f"window length and count must be positive, got {length} and {count}")
    usable = n_frames if frame_limit is None else min(n_frames, frame_limit)
    if usable < length:
        return []
    last_start = usable - length
    starts = np.unique(np.linspace(0, last_start, num=min(count, last_start + 1)).round().astype(int))
    return [np.arange(start, start + length) for start in starts]
