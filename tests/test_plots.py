"""ROC / DET PNGs of training.evaluate: the curves are the metric module's points and the marker sits
at the rates the dev threshold gives (hand-computed below), drawn into the PNG itself."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pandas as pd
import pytest

from training.evaluate import main as evaluate_main
from training.metrics import plottable_splits, roc_points
from training.plots import DET_LIMITS, curve_figure, probit, write_curve_plots

THRESHOLD = 0.825  # the dev EER threshold of DEV (see tests/test_training.py)


def scores(ids, values, labels, types) -> pd.DataFrame:
    return pd.DataFrame({"video_id": ids, "score": values, "is_bonafide": labels, "attack_type": types})


DEV = scores(["d1", "d2", "d3", "d4"], [0.9, 0.8, 0.3, 0.85], [True, True, False, False],
             ["bonafide", "bonafide", "print", "replay"])
TEST = scores(["t1", "t2", "t3"], [0.95, 0.5, 0.2], [True, True, False], ["bonafide", "bonafide", "print"])


def markers(figure) -> dict[str, tuple[float, float]]:
    return {line.get_gid(): (line.get_xdata()[0], line.get_ydata()[0])
            for line in figure.axes[0].get_lines() if (line.get_gid() or "").startswith("operating-point")}


def png(figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)


def test_roc_marks_the_dev_threshold_on_both_splits():
    # dev at 0.825: bona fide 0.8 rejected (BPCER 1/2), attack 0.85 accepted (APCER 1/2); test: BPCER 1/2, APCER 0
    figure = curve_figure("roc", {"dev": DEV, "test": TEST}, THRESHOLD)
    assert markers(figure) == {"operating-point-dev": (0.5, 0.5), "operating-point-test": (0.0, 0.5)}
    labels = {line.get_gid(): line.get_label() for line in figure.axes[0].get_lines()}
    assert labels["operating-point-dev"] == "dev at dev threshold: APCER (pooled) 0.500, BPCER 0.500"
    curve = figure.axes[0].get_lines()[2]  # dev curve, dev marker, test curve, …
    expected = roc_points(TEST["score"], TEST["is_bonafide"])
    assert np.array_equal(curve.get_xdata(), expected["fpr"]) and np.array_equal(curve.get_ydata(), expected["tpr"])


def test_det_uses_normal_deviates_with_rates_of_zero_at_the_axis_edge():
    figure = curve_figure("det", {"dev": DEV, "test": TEST}, THRESHOLD)
    found = markers(figure)
    assert found["operating-point-dev"] == pytest.approx((0.0, 0.0))  # probit(1/2) = 0
    assert found["operating-point-test"] == pytest.approx((probit([DET_LIMITS[0]])[0], 0.0))
    assert probit([DET_LIMITS[0]])[0] == pytest.approx(-3.0902, abs=1e-4)


def test_the_marker_is_drawn_into_the_png():
    figure = curve_figure("roc", {"dev": DEV, "test": TEST}, THRESHOLD)
    with_marker = png(figure)
    x, y = figure.axes[0].transData.transform(markers(figure)["operating-point-dev"])
    row, column = int(round(with_marker.shape[0] - y)), int(round(x))
    next(line for line in figure.axes[0].get_lines() if line.get_gid() == "operating-point-dev").remove()
    without = png(figure)
    patch = (slice(row - 3, row + 4), slice(column - 3, column + 4))
    assert not np.array_equal(with_marker[patch], without[patch])
    assert np.abs(with_marker[row, column].astype(int) - (180, 119, 31)).max() < 10  # dev's blue (BGR) at its centre


def test_evaluate_writes_roc_and_det_png_beside_the_csvs(tmp_path):
    DEV.to_csv(tmp_path / "dev.csv", index=False)
    TEST.to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "eval"
    assert evaluate_main(["--scores-dev", str(tmp_path / "dev.csv"), "--scores-test", str(tmp_path / "test.csv"),
                          "--out", str(out), "--quiet"]) == 0
    for kind in ("roc", "det"):
        assert (out / f"{kind}_test.csv").is_file()
        assert cv2.imread(str(out / f"{kind}.png")).shape == (450, 600, 3)


def test_a_split_without_both_classes_gets_no_curve(tmp_path):
    only_bonafide = TEST[TEST["is_bonafide"]]
    assert list(plottable_splits(DEV, only_bonafide)) == ["dev"]
    assert sorted(write_curve_plots(DEV, only_bonafide, THRESHOLD, tmp_path)) == ["det", "roc"]
    assert write_curve_plots(only_bonafide, only_bonafide, THRESHOLD, tmp_path / "none") == {}
    assert not (tmp_path / "none").exists()
