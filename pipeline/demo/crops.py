"""How the CeFA and CASIA-SURF releases made their frames, applied to rendered demo frames.

The releases detected the face in every frame, separately in the RGB video and in the aligned
depth/IR video (RealSense: RGB 1280×720, depth and IR 640×480, so the face is about half as many
pixels wide there), masked it on black and cut each frame out around its own detection; frames where
no face was found were dropped, in one stream or in both. So here, per frame and per stream:

* the aligned stream is the rendered depth and IR at the recording's own scale (0.45–0.55 of RGB);
* each frame is cut out around its face with margins drawn anew every frame, so frame sizes vary
  within a recording and the RGB and depth/IR crops of one frame are at different scales;
* now and then a frame number is missing from one modality only, or from all of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .render import Rendered

#: The streams a release detected faces in, and the modalities each holds.
STREAMS = {"rgb": ("rgb",), "aligned": ("depth", "ir")}
#: Margin of a detection around the masked face, per side, as a fraction of the face's extent.
MARGINS = (0.03, 0.12)
#: Scale of the aligned depth/IR stream relative to RGB, drawn per recording.
ALIGNED_SCALES = (0.45, 0.55)
#: Chance that a recording loses one frame number in one modality, and in every modality.
DROP_ONE, DROP_ALL = 0.35, 0.2


@dataclass(frozen=True, eq=False)
class ReleaseFrames:
    frames: dict[str, dict[int, np.ndarray]]  # modality → frame number → the frame as the release stores it
    boxes: dict[str, dict[int, np.ndarray]]  # modality → frame number → face box (x1 y1 x2 y2) in that frame


def release_frames(shot: Rendered, rng: np.random.Generator, numbers: list[int]) -> ReleaseFrames:
    """Cut every rendered frame out per stream around its face, then drop frames, as the releases did.

    ``numbers[t]`` is the frame number of rendered frame t (``1, 2, …`` for CeFA, ``1, 11, …`` for
    CASIA-SURF, which kept one frame in ten).
    """
    scale = float(rng.uniform(*ALIGNED_SCALES))
    frames: dict[str, dict[int, np.ndarray]] = {m: {} for stream in STREAMS.values() for m in stream}
    boxes: dict[str, dict[int, np.ndarray]] = {m: {} for m in frames}
    for t, number in enumerate(numbers):
        for stream, modalities in STREAMS.items():
            factor = 1.0 if stream == "rgb" else scale
            images = [_resized(shot.frames[m][t], factor) for m in modalities]
            origin, cut = _detect_and_cut(images, rng)
            face = np.round(shot.face_boxes[t] * factor).astype(np.int64) - np.tile(origin, 2)
            for modality, image in zip(modalities, cut):
                frames[modality][number], boxes[modality][number] = image, face
    for modality, number in _dropped(rng, list(frames), numbers):
        del frames[modality][number], boxes[modality][number]
    return ReleaseFrames(frames, boxes)


def _resized(image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _detect_and_cut(images: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """One detection for a stream's images of one frame: the masked face's extent plus random margins,
    cut out of each image (black where the box leaves the frame). Returns the box origin and the cuts."""
    foreground = np.zeros(images[0].shape[:2], bool)
    for image in images:
        foreground |= (image.max(axis=2) if image.ndim == 3 else image) > 0
    rows, cols = np.flatnonzero(foreground.any(axis=1)), np.flatnonzero(foreground.any(axis=0))
    x1, y1, x2, y2 = cols[0], rows[0], cols[-1] + 1, rows[-1] + 1
    side = max(x2 - x1, y2 - y1)
    left, top, right, bottom = (int(round(m * side)) for m in rng.uniform(*MARGINS, size=4))
    box = np.array([x1 - left, y1 - top, x2 + right, y2 + bottom])
    return box[:2], [_cut(image, box) for image in images]


def _cut(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (int(v) for v in box)
    out = np.zeros((y2 - y1, x2 - x1, *image.shape[2:]), image.dtype)
    height, width = image.shape[:2]
    sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    out[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return out


def _dropped(rng: np.random.Generator, modalities: list[str], numbers: list[int]) -> list[tuple[str, int]]:
    """(modality, frame number) pairs the detector lost: inner frames, so a recording keeps its length."""
    inner = numbers[1:-1]
    lost: list[tuple[str, int]] = []
    if len(inner) < 2:
        return lost
    picks = rng.permutation(len(inner))[:2]
    if rng.random() < DROP_ONE:
        lost.append((modalities[int(rng.integers(len(modalities)))], inner[picks[0]]))
    if rng.random() < DROP_ALL:
        lost += [(modality, inner[picks[1]]) for modality in modalities]
    return lost
