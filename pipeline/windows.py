"""Which frames each sample reads: W windows of K consecutive frames spread over a recording.

Windows are planned over a recording's *paired* frame numbers (those every modality has), so a
window never pairs RGB frame n with depth frame n + 1, and a number missing from one modality costs
that frame in every modality rather than shifting the rest. K consecutive paired numbers may skip a
number (missing in some or all modalities): such a window is kept and flagged (:func:`has_gap`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


def plan_windows(n_frames: int, length: int, count: int, frame_limit: int | None = None) -> list[np.ndarray]:
    """Positions (indices into the paired frame numbers) of up to ``count`` windows of ``length``.

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


def frame_step(numbers: Iterable[int]) -> int:
    """The usual step between a recording's frame numbers: 1, or 10 for CASIA-SURF's every-10th frames.

    The most common difference between consecutive numbers (the smaller one on a tie), over all the
    numbers any modality has.
    """
    ordered = sorted(set(numbers))
    steps = Counter(b - a for a, b in zip(ordered, ordered[1:]))
    return min(steps, key=lambda step: (-steps[step], step)) if steps else 1


def has_gap(frames: Sequence[int], step: int) -> bool:
    """Whether a window's frame numbers skip one that the recording's ``step`` would have had."""
    return any(b - a > step for a, b in zip(frames, frames[1:]))
