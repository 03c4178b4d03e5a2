"""Dynamic images by approximate rank pooling (Bilen et al., "Dynamic Image Networks", CVPR 2016).

For frames x_1 … x_T the dynamic image is d = Σ_t α_t x_t with

    α_t = 2(T − t + 1) − (T + 1)(H_T − H_{t−1}),   H_k = Σ_{i≤k} 1/i,  H_0 = 0.

Equivalently α_t = Σ_{i=t..T} (2i − T − 1)/i. The α sum to zero, so a still clip gives d = 0: the
image holds motion, not appearance. (tcvrick's ``dynamicimage`` port, the most copied public Python
one, uses (2i − T)/i where Bilen's closed form has (2i − T − 1)/i, so its coefficients sum to T and
T × the mean frame leaks into the image: each of its α_t exceeds Bilen's by H_T − H_{t−1}, so the
mean is weighted towards later frames, and is exactly the frame for a still clip.)

Two quantisations to uint8:

* ``minmax`` — per image, (d − min) / (max − min) · 255, what the reference code and its ports do;
  a still clip (max = min up to float32 round-off) maps to mid-grey 128;
* ``fixed`` — 128 + d / scale, rounded and clipped; the same motion gives the same grey level in
  every sample, so the size of the motion stays comparable across samples.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

QUANTISATIONS = ("minmax", "fixed")
#: Ranges below this (in pixel-value units) are float32 round-off of a still clip, not motion.
STILL_RANGE = 1e-3


@lru_cache(maxsize=64)
def _weights(length: int) -> np.ndarray:
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, length + 1))])  # H_0 … H_T
    t = np.arange(1, length + 1)
    alpha = 2.0 * (length - t + 1) - (length + 1) * (harmonic[length] - harmonic[t - 1])
    alpha.setflags(write=False)
    return alpha


def rank_pool_weights(length: int) -> np.ndarray:
    """The approximate-rank-pooling coefficients α_1 … α_T (float64, summing to zero)."""
    if length < 1:
        raise ValueError(f"rank pooling needs at least one frame, got {length}")
    return _weights(length).copy()


def dynamic_image(frames: np.ndarray) -> np.ndarray:
    """Float32 dynamic image of a ``(T, H, W)`` or ``(T, H, W, C)`` clip (any real dtype).

    One float32 matrix product over the frame axis. (A compiled numba kernel that streamed uint8 frames
    was no faster end to end: the shard stage on the small CeFA demo with two cold workers took
    7.6–9.8 s with it and 7.1–8.1 s without, since each worker paid its compilation-cache load.)
    """
    frames = np.asarray(frames)
    if frames.ndim not in (3, 4):
        raise ValueError(f"expected frames of shape (T, H, W) or (T, H, W, C), got {frames.shape}")
    alpha = _weights(frames.shape[0]).astype(np.float32)
    flat = frames.reshape(frames.shape[0], -1).astype(np.float32, copy=False)
    return (alpha @ flat).reshape(frames.shape[1:])


def quantise(image: np.ndarray, mode: str = "minmax", scale: float = 4.0) -> np.ndarray:
    """Map a float dynamic image to uint8 (see the module docstring for the two modes)."""
    if mode == "minmax":
        low, high = float(image.min()), float(image.max())
        if high - low <= STILL_RANGE:
            return np.full(image.shape, 128, np.uint8)
        scaled = (image - low) * (255.0 / (high - low))
    elif mode == "fixed":
        if scale <= 0:
            raise ValueError(f"fixed quantisation needs a positive scale, got {scale}")
        scaled = 128.0 + image / scale
    else:
        raise ValueError(f"unknown quantisation {mode!r}: expected one of {QUANTISATIONS}")
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
