"""Which frames each sample reads: W windows of K consecutive frames of a recording, placed by a named rule.

Windows are planned over a recording's *paired* frame numbers (those every modality has), so a
window never pairs RGB frame n with depth frame n + 1, and a number missing from one modality costs
that frame in every modality rather than shifting the rest. K consecutive paired numbers may skip a
number (missing in some or all modalities): such a window is kept and flagged (:func:`has_gap`).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Where a recording's windows start (positions among its paired frames), by name:
#: ``spread``: W windows evenly from ``start`` to the last possible start (covering the whole recording);
#: ``interval``: window j at ``start + j · ⌊n / W⌋``, n the recording's (usable) frames: SSDG's frames 6 and
#: 6 + ⌊n / 2⌋ (start 6, W 2, K 1);
#: ``stride``: a window every ``stride`` frames from ``start``, at most W: SAFAS's every 5th frame (stride 5, K 1).
PLACEMENTS = ("spread", "interval", "stride")


@dataclass(frozen=True)
class Placement:
    """A window placement rule (:data:`PLACEMENTS`) and its two numbers."""

    rule: str = "spread"
    start: int = 0
    stride: int = 5

    def __post_init__(self) -> None:
        if self.rule not in PLACEMENTS or self.start < 0 or self.stride < 1:
            raise ValueError(f"window placement {self}: expected a rule among {PLACEMENTS}, a start of 0 or more "
                             "and a stride of 1 or more")

    def starts(self, usable: int, length: int, count: int) -> list[int]:
        """The start positions of up to ``count`` windows of ``length`` among ``usable`` frames."""
        last = usable - length
        if last < self.start:
            return []
        if self.rule == "spread":
            spread = np.linspace(self.start, last, num=min(count, last - self.start + 1)).round().astype(int)
            return sorted({int(start) for start in spread})
        step = usable // count if self.rule == "interval" else self.stride
        return sorted({start for start in range(self.start, self.start + count * max(step, 1), max(step, 1))
                       if start <= last})


def plan_windows(n_frames: int, length: int, count: int, frame_limit: int | None = None,
                 placement: Placement = Placement()) -> list[np.ndarray]:
    """Positions (indices into the paired frame numbers) of up to ``count`` windows of ``length``.

    The usable frames are the first ``frame_limit`` when a protocol restricts them; by default (``spread``) the
    windows cover the whole recording, overlapping in a short one; a recording with too few frames yields fewer
    windows, and one shorter than ``length`` (past the placement's start) none.
    """
    if length < 1 or count < 1:
        raise ValueError(f"window length and count must be positive, got {length} and {count}")
    usable = n_frames if frame_limit is None else min(n_frames, frame_limit)
    return [np.arange(start, start + length) for start in placement.starts(usable, length, count)]


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
