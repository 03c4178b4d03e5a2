"""Dynamic-image kernel: ours against a per-frame float64 loop (the usual public code) and a limit.

The limit is a single pass that reads the K uint8 frames once and writes one float32 image,
``frames.sum(axis=0, dtype=np.float32)``. Everything is timed in this run, on this machine, and
printed as ratios: absolute times on a shared machine mean little.

    python benchmarks/bench_dynamic.py      (or: make bench)
"""
from __future__ import annotations

import timeit

import numpy as np

from common import header, verdict
from pipeline.dynamic import dynamic_image, rank_pool_weights

TARGET_VS_LIMIT = 1.3  # issue target: within 1.3x of the single pass


def loop_float64(frames: np.ndarray) -> np.ndarray:
    """The way most public ports do it: a Python loop over frames in float64."""
    alpha = rank_pool_weights(len(frames))
    image = np.zeros(frames.shape[1:], np.float64)
    for t, frame in enumerate(frames):
        image += alpha[t] * frame.astype(np.float64)
    return image.astype(np.float32)


def single_pass(frames: np.ndarray) -> np.ndarray:
    return frames.sum(axis=0, dtype=np.float32)


def best_of(function, frames: np.ndarray, repeat: int = 7, number: int = 200) -> float:
    function(frames)  # warm-up (and compilation)
    return min(timeit.repeat(lambda: function(frames), repeat=repeat, number=number)) / number


def main() -> None:
    header("dynamic-image kernel vs one sum pass over the window")
    rng = np.random.default_rng(0)
    for shape in ((7, 128, 128), (7, 128, 128, 3)):
        frames = rng.integers(0, 256, shape, dtype=np.uint8)
        np.testing.assert_allclose(dynamic_image(frames), loop_float64(frames), rtol=1e-5, atol=1e-2)
        limit, ours, loop = (best_of(f, frames) for f in (single_pass, dynamic_image, loop_float64))
        verdict(f"dynamic image/one sum pass {'x'.join(map(str, shape))}", ours / limit, TARGET_VS_LIMIT, False,
                f"ours {ours * 1e6:.1f} µs, one sum pass {limit * 1e6:.1f} µs; a per-frame float64 loop "
                f"{loop * 1e6:.1f} µs ({loop / ours:.1f}x ours)")


if __name__ == "__main__":
    main()
