"""Where the face is: one crop geometry per window, applied to every frame of every modality.

A window gets ONE geometry (a 2×3 affine map from the source frame to the ``size``×``size`` crop),
never one per frame: the dynamic image must see the face move inside a fixed crop, and re-cropping
every frame would erase the motion cue SD-Net's dynamic branch exists for. Depth and IR are
registered to RGB in the multi-modal datasets, so the RGB geometry crops them too.

Geometry sources, by what the dataset ships:

* ``black_border`` — CeFA and CASIA-SURF frames are face crops on black: the extent of the non-black
  RGB pixels over the window, squared and padded;
* ``eyes`` — OULU-NPU's per-frame eye positions: a similarity transform that puts the window's mean
  eye positions at fixed places in the crop;
* ``face_file`` — SiW's per-frame ``.face`` boxes (``0 0 0 0`` = no face), gaps filled from the nearest
  annotated frame;
* detectors (``opencv`` Haar cascade, ``face_alignment`` FAN landmarks) for anything else.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Where the crop puts the eyes (fractions of the crop size): image-left eye, image-right eye.
EYE_TARGETS = ((0.32, 0.40), (0.68, 0.40))
#: RGB values at or below this count as the black background of CeFA / CASIA-SURF frames (JPEG noise).
BLACK_LEVEL = 16


class AnnotationError(ValueError):
    """An annotation file that does not follow its format; names the file and the line."""


@dataclass(frozen=True)
class CropGeometry:
    """Affine map from a source frame to the crop, with the source box it corresponds to."""

    matrix: np.ndarray  # 2×3, float64
    size: int
    method: str
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in source pixels


def box_geometry(box: tuple[float, float, float, float], size: int, padding: float, method: str) -> CropGeometry:
    """Square the box around its centre, pad it by ``padding`` of its side, and map it onto the crop."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * padding)
    if side <= 0:
        raise ValueError(f"empty face box {box}")
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    scale = size / side
    matrix = np.array([[scale, 0.0, size / 2.0 - scale * cx], [0.0, scale, size / 2.0 - scale * cy]])
    square = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    return CropGeometry(matrix, size, method, square)


def crop(frames: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """Warp every frame (``(T, H, W[, C])`` uint8) into the crop; outside the frame is black.

    ``warpAffine`` interpolates bilinearly without anti-aliasing, so a face shrunk several times
    (Full-HD video to 128 px) would alias, and the dynamic image would turn the aliasing into fake
    motion. Frames are therefore first reduced with area averaging to about the crop's scale.
    """
    import cv2

    matrix, frames = geometry.matrix, np.asarray(frames)
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale < 0.75:
        height, width = frames.shape[1:3]
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        factors = np.array([small[0] / width, small[1] / height])
        frames = np.stack([cv2.resize(f, small, interpolation=cv2.INTER_AREA) for f in frames])
        # pixel centres: x = (x_small + 0.5) / factor - 0.5
        shift = matrix[:, :2] @ (0.5 / factors - 0.5)
        matrix = np.hstack([matrix[:, :2] / factors[None, :], (matrix[:, 2] + shift)[:, None]])
    size = (geometry.size, geometry.size)
    return np.stack(
        [cv2.warpAffine(f, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) for f in frames]
    )


# -- black-border crops (CeFA, CASIA-SURF) --------------------------------------------------------
def black_border_box(rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """Extent of the pixels brighter than the black background in any frame of the window.

    The maximum over frames first (contiguous, vectorised), then over the channels as two
    element-wise maxima: one ``max(axis=(0, 3))`` reduction is about 70 times slower.
    """
    brightest = np.maximum.reduce(rgb, axis=0)
    if brightest.ndim == 3:
        brightest = np.maximum(np.maximum(brightest[..., 0], brightest[..., 1]), brightest[..., 2])
    foreground = brightest > BLACK_LEVEL
    rows, cols = np.flatnonzero(foreground.any(axis=1)), np.flatnonzero(foreground.any(axis=0))
    if rows.size == 0:
        return None
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


# -- eye positions (OULU-NPU) ---------------------------------------------------------------------
def read_eye_file(path: Path) -> dict[int, np.ndarray]:
    """``frame, x_right_eye, y_right_eye, x_left_eye, y_left_eye`` lines → frame → (4,) float array."""
    eyes = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            frame, *coords = (float(v) for v in line.replace(",", " ").split())
            if len(coords) != 4:
                raise ValueError(f"{len(coords) + 1} values, expected 5")
        except ValueError as error:
            raise AnnotationError(f"{path}:{number}: {line!r}: {error}") from None
        eyes[int(frame)] = np.array(coords)
    return eyes


def eye_geometry(eyes: np.ndarray, size: int) -> CropGeometry:
    """Similarity transform putting the mean eye positions of a window at :data:`EYE_TARGETS`.

    ``eyes`` rows are ``x_right, y_right, x_left, y_left``; the subject's right eye is on the image left.
    """
    mean = eyes.mean(axis=0)
    source = np.array([mean[0:2], mean[2:4]])
    target = np.array(EYE_TARGETS) * size
    source_vector, target_vector = source[1] - source[0], target[1] - target[0]
    distance = float(np.hypot(*source_vector))
    if distance < 1.0:
        raise ValueError("eye positions coincide")
    scale = float(np.hypot(*target_vector)) / distance
    angle = math.atan2(target_vector[1], target_vector[0]) - math.atan2(source_vector[1], source_vector[0])
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    matrix = np.hstack([rotation, (target[0] - rotation @ source[0])[:, None]])
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    corners = np.array([[0, 0, 1], [size, size, 1]]) @ inverse.T
    return CropGeometry(matrix, size, "eyes", (*corners[0], *corners[1]))


def check_inside(points: np.ndarray, width: int, height: int, what: str) -> None:
    """Refuse annotation points (``(n, 2)`` x, y) that lie outside a ``width`` × ``height`` frame."""
    outside = (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0) | (points[:, 1] > height)
    if outside.any():
        x, y = points[np.flatnonzero(outside)[0]]
        raise ValueError(f"{what} ({x:.0f}, {y:.0f}) outside the {width}×{height} frame")


# -- face boxes (SiW) -----------------------------------------------------------------------------
def read_face_file(path: Path) -> np.ndarray:
    """``x1 y1 x2 y2`` per frame → ``(n, 4)`` float array, NaN rows where the file says ``0 0 0 0``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        try:
            values = [float(v) for v in line.split()]
            if len(values) != 4:
                raise ValueError(f"{len(values)} values, expected 4")
        except ValueError as error:
            raise AnnotationError(f"{path}:{number}: {line!r}: {error}") from None
        x1, y1, x2, y2 = values
        rows.append(values if x2 > x1 and y2 > y1 else [math.nan] * 4)
    return np.array(rows, dtype=float).reshape(-1, 4)


def fill_gaps(boxes: np.ndarray) -> np.ndarray:
    """Replace missing (NaN) rows by the nearest annotated frame's box; all-NaN stays NaN."""
    valid = np.flatnonzero(~np.isnan(boxes).any(axis=1))
    if valid.size == 0 or valid.size == len(boxes):
        return boxes.copy()
    nearest = valid[np.abs(np.arange(len(boxes))[:, None] - valid[None, :]).argmin(axis=1)]
    return boxes[nearest]


def window_box(boxes: np.ndarray) -> tuple[float, float, float, float] | None:
    """One box for a window: the union of its frames' boxes, so the moving face stays inside."""
    boxes = boxes[~np.isnan(boxes).any(axis=1)]
    if boxes.size == 0:
        return None
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())
