"""Approximate rank pooling against hand-computed values."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from pipeline.dynamic import dynamic_image, quantise, rank_pool_weights


def _alpha_by_hand(length: int) -> list[Fraction]:
    harmonic = [Fraction(0)]
    for i in range(1, length + 1):
        harmonic.append(harmonic[-1] + Fraction(1, i))
    return [2 * (length - t + 1) - (length + 1) * (harmonic[length] - harmonic[t - 1]) for t in range(1, length + 1)]


def test_weights_for_three_frames_by_hand():
    # T=3: H = 0, 1, 3/2, 11/6 → α = 6 − 4·11/6, 4 − 4·5/6, 2 − 4·1/3 = −4/3, 2/3, 2/3
    np.testing.assert_allclose(rank_pool_weights(3), [-4 / 3, 2 / 3, 2 / 3])


@pytest.mark.parametrize("length", [1, 2, 7, 10, 32])
def test_weights_match_exact_arithmetic_and_sum_to_zero(length):
    np.testing.assert_allclose(rank_pool_weights(length), [float(a) for a in _alpha_by_hand(length)], atol=1e-12)
    assert abs(rank_pool_weights(length).sum()) < 1e-9


def test_still_clip_gives_zero_and_mid_grey():
    still = np.repeat(np.random.default_rng(0).integers(0, 255, (1, 8, 8, 3), dtype=np.uint8), 7, axis=0)
    image = dynamic_image(still)
    assert image.dtype == np.float32 and image.shape == (8, 8, 3)
    np.testing.assert_allclose(image, 0, atol=1e-3)
    assert (quantise(image, "minmax") == 128).all()
    assert (quantise(image, "fixed") == 128).all()


def test_weighted_sum_equals_a_per_frame_loop_in_float64():
    frames = np.random.default_rng(1).integers(0, 256, (7, 5, 6), dtype=np.uint8)
    alpha = rank_pool_weights(7)
    expected = sum(alpha[t] * frames[t].astype(np.float64) for t in range(7))
    np.testing.assert_allclose(dynamic_image(frames), expected, rtol=1e-5, atol=1e-3)


def test_brightening_clip_is_positive_and_darkening_negative():
    ramp = np.arange(7, dtype=np.float32)[:, None, None] * np.ones((7, 2, 2), np.float32)
    assert (dynamic_image(ramp) > 0).all() and (dynamic_image(ramp[::-1]) < 0).all()


def test_quantisation_modes():
    image = np.array([[-8.0, 0.0, 8.0, 1000.0]], np.float32)
    assert quantise(image, "fixed", scale=4.0).tolist() == [[126, 128, 130, 255]]
    assert quantise(image, "minmax").tolist() == [[0, 2, 4, 255]]
    with pytest.raises(ValueError, match="unknown quantisation 'log'"):
        quantise(image, "log")


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        dynamic_image(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="at least one frame"):
        rank_pool_weights(0)
