"""Paper tables from runs: folds grouped into rows, mean ± std over folds and over seeds, checked against values
computed by hand and by an independent implementation; score folders of any model; mistakes in one line."""
from __future__ import annotations

import json
import math
import statistics
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.aggregate import METRICS
from training.evaluate import main as evaluate_main
from training.results import main as results_main

BONAFIDE = "bonafide"


def write_scores(folder: Path, dev: tuple[list[float], list[float]], test: tuple[list[float], list[float]],
                 attack_type: str = "replay") -> None:
    """``scores_dev.csv`` and ``scores_test.csv`` from (bona fide scores, attack scores) of each split."""
    folder.mkdir(parents=True)
    for split, (bonafide, attacks) in (("dev", dev), ("test", test)):
        rows = [(f"{split}-b{i}", s, 1, BONAFIDE) for i, s in enumerate(bonafide)]
        rows += [(f"{split}-a{i}", s, 0, attack_type) for i, s in enumerate(attacks)]
        pd.DataFrame(rows, columns=["video_id", "score", "is_bonafide", "attack_type"]).to_csv(
            folder / f"scores_{split}.csv", index=False)


#: dev bona fide 0.9/0.8, attacks 0.2/0.1: the EER point is any threshold in (0.2, 0.8], chosen half-way: 0.5.
SEPARATED_DEV = ([0.9, 0.8], [0.2, 0.1])


@pytest.fixture
def siw_protocol_3(tmp_path) -> Path:
    """SiW Protocol 3 (folds 3_1: print → replay, 3_2: replay → print) with two seeds, each test split holding one
    attack type, test ACERs .125, .5 (3_1) and .25, .625 (3_2), one of them with tied dev scores."""
    scores = tmp_path / "scores"
    # threshold 0.5: the attack at 0.5 ties it and is accepted (score >= threshold): APCER 1/4, BPCER 0
    write_scores(scores / "siw-3_1-0", SEPARATED_DEV, ([0.7, 0.6], [0.5, 0.3, 0.2, 0.1]))
    write_scores(scores / "siw-3_1-1", SEPARATED_DEV, ([0.7, 0.4], [0.6, 0.9, 0.2, 0.1]))  # APCER 1/2, BPCER 1/2
    write_scores(scores / "siw-3_2-0", SEPARATED_DEV, ([0.7, 0.3], [0.2, 0.1, 0.2, 0.1]), "print")  # 0, 1/2
    # tied dev: bona fide 0.9/0.6, attacks 0.6/0.1 → the EER candidates 0.6 and 0.9 tie (|0.5 - 0|, |0 - 0.5|),
    # the lower wins, threshold half-way below it: 0.35. Test: APCER 3/4, BPCER 1/2
    write_scores(scores / "siw-3_2-1", ([0.9, 0.6], [0.6, 0.1]), ([0.95, 0.3], [0.9, 0.8, 0.7, 0.1]), "print")
    return scores


def results_of(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_folds_and_seeds_are_summarised_as_computed_by_hand(siw_protocol_3, tmp_path):
    assert results_main(["--scores", str(siw_protocol_3), "--out", str(tmp_path / "out")]) == 0
    row = results_of(tmp_path / "out")["siw"]["3"]
    assert (row["folds"], row["seeds"], row["runs"], row["rule"]) == (["3_1", "3_2"], [0, 1], 4, "eer")
    acer = row["test"]["acer"]
    # fold means (3_1: (.125 + .5) / 2, 3_2: (.25 + .625) / 2) and seed means (seed 0: .1875, seed 1: .5625)
    assert acer["mean"] == pytest.approx(0.375)
    assert (acer["n"], acer["n_seeds"]) == (2, 2)
    assert acer["std"] == pytest.approx(0.125 / math.sqrt(2))  # sample std of .3125, .4375
    assert acer["std_seeds"] == pytest.approx(0.375 / math.sqrt(2))  # sample std of .1875, .5625
    assert row["test"]["bpcer"]["mean"] == pytest.approx((0 + 0.5 + 0.5 + 0.5) / 4)
    # every test split holds one attack type: its worst type's APCER is the pooled APCER
    for name in ("mean", "std", "std_seeds"):
        assert row["test"]["apcer_worst_pai"][name] == pytest.approx(row["test"]["apcer"][name])
    # two bona fide and four attacks a split: TPR at FPR 1 % cannot be measured on any
    assert row["test"]["tpr@fpr=1e-2"]["mean"] is None and row["test"]["tpr@fpr=1e-2"]["not_measured"] == "4 of 4 runs"
    table = (tmp_path / "out" / "results.md").read_text()
    assert "| 3 | scores | 2 folds × 2 seeds | " in table and "| 37.50 ± 8.84 |" in table
    assert "| 3 | CDCN [cdcn] |  | 1.67 ± 0.11 | 1.76 ± 0.12 | 1.71 ± 0.11 |" in table  # published, beside ours


def test_one_seed_has_no_seed_spread(siw_protocol_3, tmp_path):
    assert results_main(["--scores", str(siw_protocol_3), "--seeds", "0", "--out", str(tmp_path / "out")]) == 0
    acer = results_of(tmp_path / "out")["siw"]["3"]["test"]["acer"]
    assert acer["mean"] == pytest.approx((0.125 + 0.25) / 2)
    assert acer["std"] == pytest.approx(0.125 / math.sqrt(2)) and acer["n"] == 2
    assert acer["std_seeds"] is None and acer["n_seeds"] == 1


@pytest.mark.parametrize("rule", ["eer", "bpcer2"])
def test_score_folders_are_evaluated_exactly_as_evaluate_does(siw_protocol_3, tmp_path, rule):
    """Both commands take the rule from params.yaml's evaluate.rule when none is given."""
    params = ["--params", str(tmp_path / "params.yaml")]
    (tmp_path / "params.yaml").write_text(f"evaluate:\n  rule: {rule}\n")
    assert results_main(["--scores", str(siw_protocol_3), "--out", str(tmp_path / "out"), *params]) == 0
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["siw"]["3"]["rule"] == rule
    runs = pd.read_csv(tmp_path / "out" / "runs.csv", dtype={"protocol": str})
    for folder in sorted(siw_protocol_3.iterdir()):
        _, protocol, seed = folder.name.split("-")
        assert evaluate_main(["--scores-dev", str(folder / "scores_dev.csv"), "--scores-test",
                              str(folder / "scores_test.csv"), "--out", str(tmp_path / "eval" / folder.name),
                              *params]) == 0
        metrics = json.loads((tmp_path / "eval" / folder.name / "metrics.json").read_text())
        assert metrics["rule"] == rule
        ours = runs[(runs["protocol"] == protocol) & (runs["seed"] == int(seed))]
        assert len(ours) == 2 * len(METRICS)
        for split, metric, value in zip(ours["split"], ours["metric"], ours["value"]):
            expected = metrics[split][metric]
            assert (value == expected) if expected is not None else pd.isna(value), (folder.name, split, metric)


# -- a held-out check: random score files through the command, against a plain re-implementation --------------------
def naive_threshold(bonafide: list[float], attacks: list[float]) -> float:
    """The dev EER threshold by brute force: the lowest candidate where |APCER - BPCER| is least, moved half-way
    down to the next lower score."""
    candidates = sorted(set(bonafide) | set(attacks)) + [math.inf]
    gaps = [abs(naive_rates(bonafide, attacks, t)[0] - naive_rates(bonafide, attacks, t)[1]) for t in candidates]
    best = gaps.index(min(gaps))
    if best == 0 or candidates[best] == math.inf:
        return candidates[best]
    return (candidates[best - 1] + candidates[best]) / 2


def naive_rates(bonafide: list[float], attacks: list[float], threshold: float) -> tuple[Fraction, Fraction]:
    """APCER and BPCER as exact fractions: two gaps equal as fractions are equal here (in floats they may not be)."""
    apcer = Fraction(sum(score >= threshold for score in attacks), len(attacks))
    bpcer = Fraction(sum(score < threshold for score in bonafide), len(bonafide))
    return apcer, bpcer


def test_a_protocol_with_six_folds_and_three_seeds_matches_an_independent_computation(tmp_path):
    rng = np.random.default_rng(7)
    expected: dict[tuple[str, int], float] = {}
    for fold in range(1, 7):
        for seed in range(3):
            dev = [list(np.round(rng.uniform(0.3, 1, 6), 2)), list(np.round(rng.uniform(0, 0.7, 12), 2))]
            test = [list(np.round(rng.uniform(0.3, 1, 5), 2)), list(np.round(rng.uniform(0, 0.7, 15), 2))]
            write_scores(tmp_path / "scores" / f"oulu-3_{fold}-{seed}", tuple(dev), tuple(test))
            threshold = naive_threshold(*dev)
            apcer, bpcer = naive_rates(*test, threshold)
            expected[f"3_{fold}", seed] = float((apcer + bpcer) / 2)
    assert results_main(["--scores", str(tmp_path / "scores"), "--out", str(tmp_path / "out")]) == 0
    acer = results_of(tmp_path / "out")["oulu"]["3"]["test"]["acer"]
    fold_means = [statistics.mean(expected[f"3_{f}", s] for s in range(3)) for f in range(1, 7)]
    seed_means = [statistics.mean(expected[f"3_{f}", s] for f in range(1, 7)) for s in range(3)]
    assert acer["mean"] == pytest.approx(statistics.mean(expected.values()))
    assert acer["std"] == pytest.approx(statistics.stdev(fold_means)) and acer["n"] == 6
    assert acer["std_seeds"] == pytest.approx(statistics.stdev(seed_means)) and acer["n_seeds"] == 3


# -- mistakes ---------------------------------------------------------------------------------------------------------
def refused(argv: list[str], capsys) -> str:
    assert results_main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_missing_fold_is_named_and_never_averaged_away(siw_protocol_3, tmp_path, capsys):
    for name in ("scores_dev.csv", "scores_test.csv"):
        (siw_protocol_3 / "siw-3_2-1" / name).unlink()
    (siw_protocol_3 / "siw-3_2-1").rmdir()
    line = refused(["--scores", str(siw_protocol_3), "--out", str(tmp_path / "out")], capsys)
    assert "siw 3: no evaluated run of 3_2 seed 1 (3 of 4 runs: 2 folds × 2 seeds)" in line and "--partial" in line
    assert not (tmp_path / "out").exists()
    assert results_main(["--scores", str(siw_protocol_3), "--partial", "--out", str(tmp_path / "out")]) == 0
    row = results_of(tmp_path / "out")["siw"]["3"]
    assert row["missing"] == ["3_2 seed 1"] and row["runs"] == 3
    assert row["test"]["acer"]["mean"] == pytest.approx(((0.125 + 0.5) / 2 + 0.25) / 2)
    assert "(missing: 3_2 seed 1)" in (tmp_path / "out" / "results.md").read_text()


def test_mistakes_in_the_runs_and_score_folders_end_in_one_line(siw_protocol_3, tmp_path, capsys):
    out = ["--out", str(tmp_path / "out")]
    assert "unknown dataset 'olu'; did you mean oulu?" in refused(["--protocols", "olu-3", *out], capsys)
    assert "oulu has no protocol '7'" in refused(["--protocols", "oulu-7", *out], capsys)
    assert "no evaluated run of siw 2_1 seed 0" in refused(["--scores", str(siw_protocol_3), "--protocols", "siw-2",
                                                            *out], capsys)
    (siw_protocol_3 / "siw-3_1-0" / "scores_test.csv").unlink()
    assert "siw-3_1-0 has no scores_test.csv" in refused(["--scores", str(siw_protocol_3), *out], capsys)
    (siw_protocol_3 / "siw_3_1").mkdir()
    assert "a run folder is named <dataset>-<protocol>[-<seed>]" in refused(["--scores", str(siw_protocol_3), *out],
                                                                            capsys)
