"""Per-sample image transforms: one geometric transform shared by every image of a sample.

The static crop and the dynamic image of every modality must stay aligned (the dynamic image's
motion belongs to the face in the static one), so a sample draws ONE random crop, flip and rotation
and warps all of its images with the same matrix. Colour distortion touches the RGB static image
only: depth and IR have no colour, and a dynamic image's grey level is motion, not colour.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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

    def translate(x: float, y: float) -> np.ndarray:
        return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])

    rotate = np.array([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0], [0, 0, 1.0]])
    mirror = np.diag([flip, 1.0, 1.0])
    matrix = translate(-ox, -oy) @ translate(centre, centre) @ mirror @ rotate @ translate(-centre, -centre)
    return matrix[:2]


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def colour_jitter(rgb: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Random brightness, contrast and saturation on an RGB uint8 image."""
    image = rgb.astype(np.float32)
    brightness, contrast, saturation = 1.0 + rng.uniform(-amplitude, amplitude, size=3)
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * saturation
    image = (image - image.mean()) * contrast + image.mean()
    return np.clip(image * brightness, 0, 255).astype(np.uint8)


def to_tensor_array(image: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx3 → float32 3xHxW, ImageNet-normalised (grey is replicated to 3 channels)."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    scaled = (image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(scaled.transpose(2, 0, 1))
