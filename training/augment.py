"""Per-sample image transforms: one geometric transform shared by every image of a sample.

The static crop and the dynamic image of every modality must stay aligned (the dynamic image's
motion belongs to the face in the static one), so a sample draws ONE random crop, flip and rotation
and warps all of its images with the same matrix. Colour distortion touches the RGB static image
only: depth and IR have no colour, and a dynamic image's grey level is motion, not colour.

Images stay uint8 here, and DataLoader workers ship them so (4× fewer bytes than float32, 12× for
grey images kept at one channel, and no float work in the workers); :func:`normalise` turns a batch
into ImageNet-normalised float32 on the device, in ``training.scoring.model_inputs``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    input_size: int = 112
    max_rotation: float = 30.0
    flip: bool = True
    colour: float = 0.2  # brightness / contrast / saturation jitter amplitude


def geometric_matrix(source: int, config: AugmentConfig, rng: np.random.Generator | None) -> np.ndarray:
    """2×3 matrix: rotate and flip about the image centre, then take an ``input_size`` crop.

    Random rotation, flip and crop offset with ``rng``; the central crop alone without (evaluation).
    """
    size = config.input_size
    if rng is None:
        offset = (source - size) / 2.0
        return np.array([[1.0, 0.0, -offset], [0.0, 1.0, -offset]])
    angle = math.radians(rng.uniform(-config.max_rotation, config.max_rotation))
    flip = -1.0 if config.flip and rng.random() < 0.5 else 1.0
    ox, oy = rng.uniform(0, source - size, size=2)
    centre = source / 2.0
    # shift(−ox, −oy) · shift(centre) · mirror(flip) · rotate(angle) · shift(−centre), multiplied out
    # (five 3×3 products in numpy cost more than the warps they set up)
    cos, sin = math.cos(angle), math.sin(angle)
    a, b, c, d = flip * cos, -flip * sin, sin, cos
    return np.array([[a, b, centre - ox - centre * (a + b)], [c, d, centre - oy - centre * (c + d)]])


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def warp_all(images: dict[str, np.ndarray], matrix: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Every image of a sample warped with one matrix, as uint8 HxWxC (C = 1 for grey).

    ``warpAffine`` costs per call and per pixel far more than per channel (128 → 112 px here: 27 µs for
    one channel, 39 µs for four) and warps each channel on its own, so grey images go three or four to
    a call as the channels of one image: the same pixels, bit for bit, at half the cost for CeFA.
    (Two channels take a slower path than two calls; more than four, a much slower one.)
    """
    import cv2

    out = {name: warp(image, matrix, size) for name, image in images.items() if image.ndim == 3}
    grey = [name for name, image in images.items() if image.ndim == 2]
    for start in range(0, len(grey), 4):
        group = grey[start:start + 4]
        if len(group) < 3:
            out |= {name: warp(images[name], matrix, size)[:, :, None] for name in group}
            continue
        channels = warp(cv2.merge([images[name] for name in group]), matrix, size)
        out |= {name: channels[:, :, i:i + 1] for i, name in enumerate(group)}
    return {name: out[name] for name in images}


def colour_jitter(rgb: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation on an RGB uint8 image.

    Saturation blends each pixel with its grey (channel mean), contrast scales about the image's
    mean, brightness scales the result. All three are linear, so they fold into one 3×4 colour
    matrix that ``cv2.transform`` applies in a single uint8 → uint8 pass, saturating at 0 and 255;
    the −0.5 offset turns its rounding into truncation. It agrees with the float formula
    ``uint8(clip(b·((g + s(x − g) − m)·c + m)))`` to ±1 grey level (tests/test_loader.py), at a tenth
    of its cost.
    """
    import cv2

    brightness, contrast, saturation = 1.0 + rng.uniform(-amplitude, amplitude, size=3)
    # saturation keeps each pixel's grey, so the image mean too; cv2.mean of one channel is 7x faster
    mean = cv2.mean(rgb.reshape(rgb.shape[0], -1))[0]
    own, grey = brightness * contrast * saturation, brightness * contrast * (1.0 - saturation) / 3.0
    shift = brightness * (1.0 - contrast) * mean - 0.5
    return cv2.transform(rgb, np.array([[own + grey, grey, grey, shift], [grey, own + grey, grey, shift],
                                        [grey, grey, own + grey, shift]]))


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 Nx1xHxW or Nx3xHxW → float32 Nx3xHxW, ImageNet-normalised (grey replicated to 3 channels).

    ``(x / 255 − mean) / std`` in float32, the same operations in the same order as the numpy
    formula the workers ran before, so the same values bit for bit on the CPU (tests/test_loader.py).
    """
    mean, std = _imagenet_stats(images.device)
    return (images.float() / 255.0 - mean) / std


@lru_cache(maxsize=8)
def _imagenet_stats(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as 1x3x1x1 tensors on ``device``, copied there once, not with every batch."""
    mean, std = (torch.from_numpy(v).to(device).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return mean, std
