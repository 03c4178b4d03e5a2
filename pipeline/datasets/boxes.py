"""Per-frame face box files, read into the one table the shard stage's face sources take.

Each release writes its own format (bob's ``frame x y w h``, MSU-MFSD's ``frame, x1, y1, x2, y2, eyes…``);
its adapter module holds the reader, which states the format and calls :func:`read_frame_boxes`. The
result is a ``(last frame + 1, 4)`` float array of ``x1 y1 x2 y2`` indexed by frame position, NaN where
the file has no face: a frame left out, or an empty box. (SiW's ``.face`` files, one line per frame,
give the same table.)
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .records import AnnotationError

Box = tuple[float, float, float, float]


def read_frame_boxes(path: Path, values: int, to_box: Callable[[Sequence[float]], Box]) -> np.ndarray:
    """Lines of ``values`` numbers (spaces or commas), the first a frame number, the rest turned into
    ``x1 y1 x2 y2`` by ``to_box``; a malformed line raises :class:`AnnotationError` naming file and line."""
    boxes: dict[int, Box] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = [float(v) for v in line.replace(",", " ").split()]
            if len(row) != values:
                raise ValueError(f"{len(row)} values, expected {values}")
            frame = row[0]
            if frame < 0 or frame != int(frame):
                raise ValueError(f"{frame} is not a frame number")
            if int(frame) in boxes:
                raise ValueError(f"frame {int(frame)} is given twice")
        except ValueError as error:
            raise AnnotationError(f"{path}:{number}: {line!r}: {error}") from None
        boxes[int(frame)] = to_box(row[1:])
    return box_table(boxes)


def box_table(boxes: dict[int, Box]) -> np.ndarray:
    """Frame number → box as a table indexed by frame position; NaN rows for frames without a face."""
    table = np.full((max(boxes, default=-1) + 1, 4), np.nan)
    for frame, (x1, y1, x2, y2) in boxes.items():
        if x2 > x1 and y2 > y1:  # bob writes "0 0 0 0 0" where its detector found nothing
            table[frame] = (x1, y1, x2, y2)
    return table


def from_corner_and_size(values: Sequence[float]) -> Box:
    """bob's ``x y w h`` (top-left corner, width, height) as ``x1 y1 x2 y2``."""
    x, y, width, height = values
    return x, y, x + width, y + height
