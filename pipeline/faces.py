"""Where the face is: the crop geometry of every frame of a window, in every modality.

A geometry is a 2×3 affine map from one source frame to the ``size``×``size`` crop. The dynamic image
must see the face move inside a fixed crop (re-cropping every frame would erase the motion cue SD-Net's
dynamic branch exists for), so a window gets one geometry where its frames share one pixel grid, and
the face's own extent only where the release already cropped every frame:

* ``black_border`` — CeFA and CASIA-SURF frames are face crops on black, made per frame and separately
  in the RGB video and in the aligned depth/IR video, so frame sizes vary within a recording and RGB
  pixels do not address depth/IR pixels. Each frame's face (its non-black pixels) is mapped onto the
  crop: centred on that frame's face centroid, with one side for the whole window (the largest
  extent, squared and padded), so a still face gives a near-zero dynamic image while the face's
  scale, which the releases never changed, stays the window's. Modalities whose frames have the same
  size in every frame of the window (depth and IR: one aligned stream) share one extent, the union of
  their foregrounds, which also finds a replay's face in IR, where screens are dark;
* ``eyes`` — OULU-NPU's per-frame eye positions: a similarity transform that puts the window's mean
  eye positions at fixed places in the crop;
* ``face_file`` — per-frame face boxes (SiW's ``.face``, ``0 0 0 0`` = no face; bob's ``frame x y w h`` for
  Replay-Attack and CASIA-FASD; MSU-MFSD's), gaps filled from the nearest annotated frame;
* detectors (``opencv`` Haar cascade, ``face_alignment`` FAN landmarks) for anything else.

The last three find one geometry in the reference modality (RGB) and map it to another modality whose
frames have another size by the size ratio (a registered sensor at another resolution); a modality
whose aspect ratio differs cannot be mapped and is refused (:class:`NoGeometry`), never misaligned.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import BadData

log = logging.getLogger(__name__)

#: Where the crop puts the eyes (fractions of the crop size): image-left eye, image-right eye.
EYE_TARGETS = ((0.32, 0.40), (0.68, 0.40))
#: RGB values at or below this count as the black background of CeFA / CASIA-SURF frames (JPEG noise).
BLACK_LEVEL = 16


Box = tuple[float, float, float, float]
#: Largest relative difference of aspect ratio under which one modality's geometry maps onto another's.
ASPECT_TOLERANCE = 0.02


class NoGeometry(BadData):
    """A window for which no crop can be found; ``reason`` is the reject category, ``detail`` says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class CropGeometry:
    """Affine map from a source frame to the crop, with the source box it corresponds to."""

    matrix: np.ndarray  # 2×3, float64
    size: int
    method: str
    box: Box  # x1, y1, x2, y2 in source pixels


def box_geometry(box: Box, size: int, padding: float, method: str) -> CropGeometry:
    """Square the box around its centre, pad it by ``padding`` of its side, and map it onto the crop."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1.0 + 2.0 * padding)
    if side <= 0:
        raise NoGeometry("no_face", f"empty face box {box}")
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    scale = size / side
    matrix = np.array([[scale, 0.0, size / 2.0 - scale * cx], [0.0, scale, size / 2.0 - scale * cy]])
    square = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    return CropGeometry(matrix, size, method, square)


def crop(frames: Sequence[np.ndarray], geometries: Sequence[CropGeometry]) -> np.ndarray:
    """Warp each frame (``(H, W[, C])`` uint8, sizes may differ) by its own geometry into the crop."""
    if len(frames) != len(geometries):
        raise ValueError(f"{len(frames)} frames but {len(geometries)} geometries")
    return np.stack([crop_frame(frame, geometry) for frame, geometry in zip(frames, geometries)])


def crop_frame(frame: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """Warp one frame into the crop; outside the frame is black.

    ``warpAffine`` interpolates bilinearly without anti-aliasing, so a face shrunk several times
    (Full-HD video to 128 px) would alias, and the dynamic image would turn the aliasing into fake
    motion. The frame is therefore first reduced with area averaging to about the crop's scale.
    """
    import cv2

    matrix = geometry.matrix
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale < 0.75:
        height, width = frame.shape[:2]
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        factors = np.array([small[0] / width, small[1] / height])
        frame = cv2.resize(frame, small, interpolation=cv2.INTER_AREA)
        # pixel centres: x = (x_small + 0.5) / factor - 0.5
        shift = matrix[:, :2] @ (0.5 / factors - 0.5)
        matrix = np.hstack([matrix[:, :2] / factors[None, :], (matrix[:, 2] + shift)[:, None]])
    size = (geometry.size, geometry.size)
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def frame_size(frame: np.ndarray) -> tuple[int, int]:
    """``(width, height)`` of a frame."""
    return int(frame.shape[1]), int(frame.shape[0])


# -- black-border crops (CeFA, CASIA-SURF) --------------------------------------------------------
def foreground(frame: np.ndarray) -> np.ndarray:
    """Where one ``(H, W[, 3])`` frame is brighter than the black background (any channel), as a uint8 0/1 mask.

    OpenCV's ``inRange`` finds the black pixels of a colour frame in one pass (numpy needs two maxima and a
    comparison, five times the time: this runs for every frame of every window of CeFA and CASIA-SURF).
    """
    import cv2

    if frame.ndim == 3:
        return (cv2.inRange(frame, (0, 0, 0), (BLACK_LEVEL,) * 3) == 0).view(np.uint8)
    return (frame > BLACK_LEVEL).view(np.uint8)


@dataclass(frozen=True)
class Extent:
    """Where a foreground mask is: its box (pixel edges: a one-pixel mask at (0, 0) is (0, 0, 1, 1)) and its
    centroid in the same coordinates.

    A face crop's box can flicker by a pixel from frame to frame where dark pixels sit at the black level;
    its centroid, averaged over every face pixel, moves by a fraction of that.
    """

    box: Box
    centre: tuple[float, float]


def mask_extent(mask: np.ndarray) -> Extent | None:
    """The :class:`Extent` of a uint8 0/1 mask (None when it is empty), from its row and column counts."""
    import cv2

    columns = cv2.reduce(mask, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    rows = cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.int64)
    total = int(columns.sum())
    if total == 0:
        return None
    xs, ys = np.flatnonzero(columns), np.flatnonzero(rows)
    box = (float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1))
    centre = (float(columns @ np.arange(mask.shape[1])) / total + 0.5,
              float(rows @ np.arange(mask.shape[0])) / total + 0.5)
    return Extent(box, centre)


def shared_grids(clips: Mapping[str, Sequence[np.ndarray]]) -> list[list[str]]:
    """Modalities grouped by pixel grid: those whose frames have the same size in every frame of the window."""
    groups: dict[tuple, list[str]] = {}
    for modality, frames in clips.items():
        groups.setdefault(tuple(frame_size(f) for f in frames), []).append(modality)
    return list(groups.values())


def black_border_geometries(
    clips: Mapping[str, Sequence[np.ndarray]], frames: Sequence[int], size: int, padding: float
) -> dict[str, list[CropGeometry]]:
    """Per modality, one geometry per frame: the frame's own face mapped onto the crop.

    Each frame is centred on its face's centroid; the side is the window's largest face extent in that
    modality, squared and padded, so the window keeps one scale. Raises :class:`NoGeometry` naming the
    modality and frame number of a frame without foreground.
    """
    geometries: dict[str, list[CropGeometry]] = {}
    for group in shared_grids(clips):
        extents = []
        for position, number in enumerate(frames):
            masks = [foreground(clips[m][position]) for m in group]
            extent = mask_extent(masks[0] if len(masks) == 1 else np.bitwise_or.reduce(masks))
            if extent is None:
                raise NoGeometry("no_face",
                                 f"{'/'.join(group)} frame {number}: no pixel brighter than the black background")
            extents.append(extent)
        side = max(max(x2 - x1, y2 - y1) for x1, y1, x2, y2 in (e.box for e in extents))
        window = [box_geometry(_square(e.centre, side), size, padding, "black_border") for e in extents]
        geometries |= {modality: window for modality in group}
    return geometries


def _square(centre: tuple[float, float], side: float) -> Box:
    cx, cy = centre
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


# -- one geometry for registered modalities ---------------------------------------------------------
def map_to_modalities(
    geometry: CropGeometry, clips: Mapping[str, Sequence[np.ndarray]], reference: str
) -> dict[str, list[CropGeometry]]:
    """One geometry found in the ``reference`` modality, applied to every frame of every modality.

    A frame of another size is taken as the same view at another resolution: the geometry is scaled by
    the size ratio. Raises :class:`NoGeometry` (``grid_mismatch``) when the aspect ratios differ, since
    such a frame does not show the same view.
    """
    ref_width, ref_height = frame_size(clips[reference][len(clips[reference]) // 2])
    mapped: dict[str, list[CropGeometry]] = {}
    for modality, frames in clips.items():
        mapped[modality] = []
        for frame in frames:
            width, height = frame_size(frame)
            sx, sy = width / ref_width, height / ref_height
            if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
                raise NoGeometry("grid_mismatch", f"{modality} frame {width}×{height} and {reference} frame "
                                                  f"{ref_width}×{ref_height} differ in aspect ratio: the {reference} "
                                                  "face geometry cannot be mapped onto it")
            mapped[modality].append(geometry if (sx, sy) == (1.0, 1.0) else _rescaled(geometry, sx, sy))
    return mapped


def _rescaled(geometry: CropGeometry, sx: float, sy: float) -> CropGeometry:
    """The geometry of the same view in a frame ``sx`` × ``sy`` times the size (pixel centres kept)."""
    # x_ref = (x + 0.5) / sx - 0.5 maps this frame's pixels to the reference frame's
    to_reference = np.array([[1 / sx, 0.0, 0.5 / sx - 0.5], [0.0, 1 / sy, 0.5 / sy - 0.5], [0.0, 0.0, 1.0]])
    matrix = geometry.matrix @ to_reference
    x1, y1, x2, y2 = geometry.box
    box = ((x1 + 0.5) * sx - 0.5, (y1 + 0.5) * sy - 0.5, (x2 + 0.5) * sx - 0.5, (y2 + 0.5) * sy - 0.5)
    return CropGeometry(matrix, geometry.size, geometry.method, box)


# -- eye positions (OULU-NPU) ---------------------------------------------------------------------
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


# -- face boxes -------------------------------------------------------------------------------------
def fill_gaps(boxes: np.ndarray) -> np.ndarray:
    """Replace missing (NaN) rows by the nearest annotated frame's box; all-NaN stays NaN."""
    valid = np.flatnonzero(~np.isnan(boxes).any(axis=1))
    if valid.size == 0 or valid.size == len(boxes):
        return boxes.copy()
    nearest = valid[np.abs(np.arange(len(boxes))[:, None] - valid[None, :]).argmin(axis=1)]
    return boxes[nearest]


def window_box(boxes: np.ndarray) -> Box | None:
    """One box for a window: the union of its frames' boxes, so the moving face stays inside."""
    boxes = boxes[~np.isnan(boxes).any(axis=1)]
    if boxes.size == 0:
        return None
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())
