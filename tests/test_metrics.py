"""PAD metrics, threshold rules, the dev → test report and the score schema, on hand-computed cases.

Decision rule everywhere: accepted as bona fide iff score >= threshold.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from training.metrics import (
    apcer_per_pai,
    auc,
    bias_err,
    bpcer,
    choose_threshold,
    det_points,
    evaluate_split_scores,
    fpr_key,
    group_metrics,
    metrics_summary,
    pad_metrics,
    roc_points,
    threshold_at_eer,
    tpr_at_fpr,
    write_report,
)
from training.scores import read_score_csv, validate_scores, video_scores


def table(bonafide, attacks):
    """Score table from bona fide scores and {attack_type: scores}."""
    rows = [(f"bf{i}", f"s{i}", True, "bonafide", s) for i, s in enumerate(bonafide)]
    for kind, scores in attacks.items():
        rows += [(f"{kind}{i}", f"s{i}", False, kind, s) for i, s in enumerate(scores)]
    return pd.DataFrame(rows, columns=["video_id", "subject", "is_bonafide", "attack_type", "score"])


def arrays(df):
    return df["score"].to_numpy(), df["is_bonafide"].to_numpy(), df["attack_type"].to_numpy()


def assert_plain_json(value):
    """Only builtin JSON types (no numpy scalars, no NaN/inf)."""
    if isinstance(value, dict):
        assert all(type(k) is str for k in value), value
        for v in value.values():
            assert_plain_json(v)
    elif isinstance(value, list):
        for v in value:
            assert_plain_json(v)
    else:
        assert value is None or type(value) in (str, int, float, bool), (value, type(value))
        assert not (type(value) is float and not math.isfinite(value)), value


# ---------------------------------------------------------------- rates at a threshold, with ties

def test_ties_at_threshold_are_accepted_in_both_classes():
    # bona fide 0.9, 0.5, 0.5; attacks 0.5, 0.2, 0.1; threshold 0.5 (= the tied score)
    # accepted iff score >= 0.5: every bona fide accepted -> BPCER 0/3 = 0
    # attacks accepted: 0.5 only -> APCER 1/3
    s, b, t = arrays(table([0.9, 0.5, 0.5], {"print": [0.5, 0.2, 0.1]}))
    assert bpcer(s, b, 0.5) == 0.0
    assert apcer_per_pai(s, b, t, 0.5) == {"print": pytest.approx(1 / 3)}
    # just above the tie, the tied bona fide (2 of 3) and the tied attack are rejected together
    assert bpcer(s, b, 0.5000001) == pytest.approx(2 / 3)
    assert apcer_per_pai(s, b, t, 0.5000001) == {"print": 0.0}


def test_single_attack_type_worst_equals_pooled():
    # bona fide 0.8, 0.4; replay 0.6, 0.3, 0.2, 0.1; threshold 0.5
    # BPCER = 1/2 (0.4); APCER replay = 1/4 (0.6) = worst = pooled; ACER = (1/4 + 1/2)/2 = 3/8
    m = pad_metrics(*arrays(table([0.8, 0.4], {"replay": [0.6, 0.3, 0.2, 0.1]})), 0.5)
    assert m["apcer_per_pai"] == {"replay": 0.25}
    assert m["apcer_worst_pai"] == m["apcer"] == 0.25
    assert m["bpcer"] == 0.5
    assert m["acer"] == m["acer_worst_pai"] == pytest.approx(0.375)
    assert (m["n_bonafide"], m["n_attack"], m["n_attack_per_pai"]) == (2, 4, {"replay": 4})


def test_two_attack_types_worst_differs_from_pooled():
    # bona fide 0.9 0.8 0.7 0.3 -> at 0.5 one rejected: BPCER 1/4
    # print 0.6 0.2 0.1 0.05 -> 1 of 4 accepted: 1/4;  replay 0.75 0.72 -> 2 of 2 accepted: 1
    # APCER pooled = 3/6 = 1/2, worst PAI = 1 (replay)
    # ACER = (1/2 + 1/4)/2 = 0.375 (pooled: the papers');  ACER worst PAI = (1 + 1/4)/2 = 0.625 (ISO)
    m = pad_metrics(*arrays(table([0.9, 0.8, 0.7, 0.3], {"print": [0.6, 0.2, 0.1, 0.05], "replay": [0.75, 0.72]})), 0.5)
    assert m["apcer_per_pai"] == {"print": 0.25, "replay": 1.0}
    assert (m["apcer"], m["apcer_worst_pai"], m["worst_pai"]) == (0.5, 1.0, "replay")
    assert m["acer"] == pytest.approx(0.375)
    assert m["acer_worst_pai"] == pytest.approx(0.625)


def test_missing_class_gives_none_not_a_number():
    m = pad_metrics([0.7, 0.2], [True, True], ["bonafide", "bonafide"], 0.5)
    assert m["apcer_per_pai"] == {} and m["apcer"] is None and m["apcer_worst_pai"] is None
    assert m["acer"] is None and m["acer_worst_pai"] is None and m["worst_pai"] is None
    assert m["bpcer"] == 0.5


# ---------------------------------------------------------------- threshold rules

def test_eer_threshold_with_ties():
    # bona fide 0.9 0.5 0.5; attacks 0.5 0.2 0.1; candidates 0.1 0.2 0.5 0.9 inf
    #   t     APCER  BPCER  |diff|
    #   0.1   3/3    0      1
    #   0.2   2/3    0      2/3
    #   0.5   1/3    0      1/3   <- minimum
    #   0.9   0      2/3    2/3
    #   inf   0      1      1
    # EER = (1/3 + 0)/2 = 1/6
    # every threshold in (0.2, 0.5] gives these rates: the midpoint 0.35 is returned
    s, b, _ = arrays(table([0.9, 0.5, 0.5], {"print": [0.5, 0.2, 0.1]}))
    threshold, eer = threshold_at_eer(s, b)
    assert threshold == pytest.approx(0.35)
    assert eer == pytest.approx(1 / 6)


def test_eer_tie_break_takes_the_lowest_threshold():
    # bona fide 0.9 0.3; one attack 0.6; candidates 0.3 0.6 0.9 inf
    #   0.3: APCER 1, BPCER 0   -> 1
    #   0.6: APCER 1, BPCER 1/2 -> 1/2   (EER there 3/4)   <- lowest of the tie
    #   0.9: APCER 0, BPCER 1/2 -> 1/2   (EER there 1/4)
    #   inf: APCER 0, BPCER 1   -> 1
    # (0.3, 0.6] all give the 0.6 rates: midpoint 0.45
    threshold, eer = threshold_at_eer([0.9, 0.3, 0.6], [True, True, False])
    assert threshold == pytest.approx(0.45)
    assert eer == pytest.approx(0.75)


def test_bpcer20_rule_pooled_and_worst_case():
    # 20 attacks 0.01..0.20 (print 0.01..0.10, replay 0.11..0.20); bona fide 0.15 0.5 0.9
    # bpcer20 = lowest threshold with APCER <= 1/20.
    # pooled: at most 1 of 20 attacks accepted -> t = 0.20 (0.19 would accept 2); BPCER there 1/3
    # per type (max): replay has 10, 1/10 > 1/20, so no replay may be accepted -> next candidate 0.5
    attacks = np.round(np.arange(1, 21) / 100, 2)
    df = table([0.15, 0.5, 0.9], {"print": attacks[:10], "replay": attacks[10:]})
    s, b, t = arrays(df)
    assert choose_threshold("bpcer20", s, b) == 0.20
    assert bpcer(s, b, 0.20) == pytest.approx(1 / 3)
    assert choose_threshold("BPCER20", s, b, t) == 0.5
    assert choose_threshold("eer", s, b) == threshold_at_eer(s, b)[0]
    with pytest.raises(ValueError, match="unknown threshold rule"):
        choose_threshold("min-hter", s, b)


# ---------------------------------------------------------------- TPR at FPR

def test_tpr_at_fpr_and_too_few_attacks():
    # 100 attacks 0.00..0.99; bona fide 0.985 0.5 1.5
    # FPR <= 1e-2: at most 1 attack accepted; lowest such candidate is 0.985 (only the 0.99 attack
    # is >= 0.985; candidate 0.98 would accept two). TPR = bona fide >= 0.985 = {0.985, 1.5} = 2/3
    # 1e-3 needs 1000 attacks and 1e-4 needs 10000: not measurable -> None with a note
    s = np.concatenate([np.arange(100) / 100, [0.985, 0.5, 1.5]])
    b = np.array([False] * 100 + [True] * 3)
    result = tpr_at_fpr(s, b)
    assert list(result) == ["1e-2", "1e-3", "1e-4"]
    assert result["1e-2"]["tpr"] == pytest.approx(2 / 3)
    assert (result["1e-2"]["fpr"], result["1e-2"]["threshold"]) == (0.01, 0.985)
    for key, needed in (("1e-3", 1000), ("1e-4", 10000)):
        assert result[key]["tpr"] is None and result[key]["threshold"] is None
        assert result[key]["min_attacks"] == needed
        assert "not measurable" in result[key]["note"] and "100 attack" in result[key]["note"]
    # 99 attacks are too few for 1e-2 as well
    assert tpr_at_fpr(s[1:], b[1:], (1e-2,))["1e-2"]["tpr"] is None


def test_fpr_keys():
    assert [fpr_key(x) for x in (1e-2, 1e-3, 1e-4, 5e-3, 0.05)] == ["1e-2", "1e-3", "1e-4", "5e-3", "5e-2"]


# ---------------------------------------------------------------- curves

def test_roc_and_det_points_treat_ties_as_one_step():
    # bona fide 0.9 0.5; attacks 0.5 0.1; thresholds +inf, 0.9, 0.5, 0.1 (descending)
    # fpr (attacks >= t): 0, 0, 1/2, 1;  tpr (bona fide >= t): 0, 1/2, 1, 1
    # the tied 0.5 moves both rates in one step: (0, 1/2) -> (1/2, 1)
    s, b = [0.9, 0.5, 0.5, 0.1], [True, True, False, False]
    roc, det = roc_points(s, b), det_points(s, b)
    np.testing.assert_array_equal(roc["threshold"], [np.inf, 0.9, 0.5, 0.1])
    np.testing.assert_array_equal(roc["fpr"], [0, 0, 0.5, 1])
    np.testing.assert_array_equal(roc["tpr"], [0, 0.5, 1, 1])
    np.testing.assert_array_equal(det["apcer"], roc["fpr"])
    np.testing.assert_array_equal(det["bpcer"], [1, 0.5, 0, 0])


def test_auc_counts_a_tie_as_half_and_is_the_area_under_the_roc_steps():
    # pairs (bona fide, attack): (0.9, 0.5) 1, (0.9, 0.1) 1, (0.5, 0.5) a tie: 1/2, (0.5, 0.1) 1 → 3.5 / 4
    s, b = [0.9, 0.5, 0.5, 0.1], [True, True, False, False]
    assert auc(s, b) == 0.875
    roc = roc_points(s, b)
    assert auc(s, b) == pytest.approx(float(np.sum(np.diff(roc["fpr"]) * (roc["tpr"][1:] + roc["tpr"][:-1]) / 2)))
    assert auc([0.1, 0.9], [True, False]) == 0.0 and auc([0.9, 0.1], [True, False]) == 1.0


def test_cross_dataset_names_are_the_rates_at_the_dev_and_at_the_own_threshold():
    report = evaluate_split_scores(DEV, TEST)
    for split in ("dev", "test"):
        assert report[split]["hter"] == report[split]["acer"]  # FAR is the pooled APCER
        assert report[split]["hter_at_target_eer"] == report[split]["own_eer"]  # an oracle, and said so
    assert "oracle" in metrics_summary(report)["oracle"]


# ---------------------------------------------------------------- dev -> test report

DEV = table([0.9, 0.8], {"print": [0.45, 0.2]})
TEST = table([0.9, 0.65, 0.6, 0.5], {"print": [0.55, 0.3, 0.2], "replay": [0.1]}).assign(
    video_id=lambda d: "t_" + d["video_id"])


def test_threshold_chosen_on_dev_and_applied_unchanged_to_test():
    # dev: bona fide 0.9 0.8, attacks 0.45 0.2 -> APCER 0 = BPCER 0 for any threshold in (0.45, 0.8]:
    #   threshold 0.625 (the midpoint), EER 0
    # test at the dev threshold 0.625: bona fide 0.6 0.5 rejected -> BPCER 1/2; no attack accepted
    #   (0.55 < 0.625) -> APCER 0 (pooled; print 0, replay 0) -> ACER 1/4 (and worst PAI 1/4)
    # test's own EER: candidates ... 0.5: APCER 1/4 (0.55), BPCER 0; 0.55: APCER 1/4, BPCER 1/4
    #   -> own threshold 0.55, own EER 1/4. Tuned on test (0.55) the report would read BPCER 1/4,
    #   APCER print 1/3, replay 0, pooled 1/4, ACER worst PAI (1/3 + 1/4)/2 = 7/24 -- not what we report
    #   (its pooled ACER (1/4 + 1/4)/2 = 1/4 happens to equal ours)
    report = evaluate_split_scores(DEV, TEST)
    assert (report["rule"], report["threshold"], report["threshold_chosen_on"]) == ("eer", pytest.approx(0.625), "dev")
    assert report["dev"]["own_eer"] == 0.0 and report["dev"]["acer"] == 0.0
    test = report["test"]
    assert test["bpcer"] == 0.5 and test["apcer_worst_pai"] == 0.0 and test["apcer"] == 0.0
    assert test["acer"] == test["acer_worst_pai"] == pytest.approx(0.25)
    assert test["own_eer_threshold"] == pytest.approx(0.525) and test["own_eer"] == 0.25  # (0.5, 0.55]
    tuned = pad_metrics(*arrays(TEST), test["own_eer_threshold"])
    assert tuned["bpcer"] == 0.25 != test["bpcer"]
    assert tuned["apcer"] == 0.25 != test["apcer"]
    assert tuned["acer_worst_pai"] == pytest.approx(7 / 24) != test["acer_worst_pai"]
    assert tuned["acer"] == pytest.approx(0.25)
    assert (test["n_bonafide"], test["n_attack"], test["n_attack_per_pai"]) == (4, 4, {"print": 3, "replay": 1})
    assert test["groups"] is None  # no group column
    assert test["tpr_at_fpr"]["1e-2"]["tpr"] is None  # 4 attacks
    assert_plain_json(report)


def test_test_scores_never_move_the_threshold():
    other_test = TEST.assign(score=1.0 - TEST["score"])
    assert evaluate_split_scores(DEV, other_test)["threshold"] == pytest.approx(0.625)
    with pytest.raises(ValueError, match="share"):
        evaluate_split_scores(DEV, DEV)


def test_write_report_files(tmp_path):
    report = evaluate_split_scores(DEV, TEST)
    paths = write_report(report, DEV, TEST, tmp_path)
    strict = dict(parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    metrics = json.loads(paths["metrics"].read_text(), **strict)
    assert metrics["threshold"] == pytest.approx(0.625)
    assert set(metrics) == {"rule", "threshold", "oracle", "dev", "test"} and metrics["rule"] == "eer"
    assert metrics["test"]["acer"] == pytest.approx(0.25) and metrics["test"]["own_eer"] == 0.25
    assert metrics["test"]["apcer"] == 0.0 and metrics["test"]["acer_worst_pai"] == pytest.approx(0.25)
    assert metrics["test"]["apcer_per_pai"] == {"print": 0.0, "replay": 0.0}
    assert "by_ethnicity" not in metrics["test"] and "bias_err" not in metrics["test"]
    assert metrics["test"]["tpr@fpr=1e-2"] is None
    assert json.loads(paths["report"].read_text(), **strict) == report
    roc = pd.read_csv(tmp_path / "roc_test.csv")
    assert list(roc.columns) == ["threshold", "fpr", "tpr"] and roc["threshold"].iloc[0] == np.inf
    assert list(pd.read_csv(tmp_path / "det_dev.csv").columns) == ["threshold", "apcer", "bpcer"]
    scores = read_score_csv(tmp_path / "scores_test.csv")
    assert scores["accepted"].tolist() == [True, True, False, False, False, False, False, False]


def test_reject_all_threshold_is_written_as_inf_string(tmp_path):
    # dev: one bona fide 0.1, one attack 0.9; bpcer20 needs APCER <= 1/20, i.e. no attack accepted
    # -> only +inf qualifies; written as "inf" (strict JSON)
    dev = table([0.1], {"print": [0.9]})
    report = evaluate_split_scores(dev, TEST, rule="bpcer20")
    assert report["threshold"] == "inf" and report["test"]["bpcer"] == 1.0
    paths = write_report(report, dev, TEST, tmp_path)
    assert json.loads(paths["metrics"].read_text())["threshold"] == "inf"


# ---------------------------------------------------------------- per-group rates and BiasERR, with ties

def grouped(rows):
    """Score table from (video_id, ethnicity or None, attack_type, score) rows."""
    table = pd.DataFrame(rows, columns=["video_id", "ethnicity", "attack_type", "score"])
    return table.assign(is_bonafide=table["attack_type"] == "bonafide")


# threshold 0.5, accepted iff score >= 0.5: the tied 0.5s are accepted in both classes.
# The masks have no ethnicity and count in every group, as they belong to every CeFA test set.
#   AF: bona fide 0.9 0.5 0.4 -> 0.4 rejected: BPCER 1/3; attacks print 0.5 0.2 + masks 0.5 0.2 -> 2/4 accepted
#       APCER 1/2, ACER (1/2 + 1/3)/2 = 5/12
#   CA: bona fide 0.5 0.5 -> BPCER 0; attacks replay 0.1 0.5 + masks -> 2/4: APCER 1/2, ACER 1/4
#   EA: bona fide 0.3 0.8 -> BPCER 1/2; attacks print 0.1 + masks -> 1/3: APCER 1/3, ACER (1/3 + 1/2)/2 = 5/12
# BiasERR = sum over groups of (rate - smallest rate):
#   APCER 1/2 1/2 1/3 -> 1/6 + 1/6 + 0 = 1/3;  BPCER 1/3 0 1/2 -> 1/3 + 0 + 1/2 = 5/6;
#   ACER 5/12 3/12 5/12 -> 2/12 + 0 + 2/12 = 1/3
GROUPED_TEST = grouped([
    ("af_bf1", "AF", "bonafide", 0.9), ("af_bf2", "AF", "bonafide", 0.5), ("af_bf3", "AF", "bonafide", 0.4),
    ("af_p1", "AF", "print", 0.5), ("af_p2", "AF", "print", 0.2),
    ("ca_bf1", "CA", "bonafide", 0.5), ("ca_bf2", "CA", "bonafide", 0.5),
    ("ca_r1", "CA", "replay", 0.1), ("ca_r2", "CA", "replay", 0.5),
    ("ea_bf1", "EA", "bonafide", 0.3), ("ea_bf2", "EA", "bonafide", 0.8), ("ea_p1", "EA", "print", 0.1),
    ("mask1", None, "mask3d", 0.5), ("mask2", None, "mask3d", 0.2),
])
GROUP_RATES = {"AF": (1 / 2, 1 / 3, 5 / 12), "CA": (1 / 2, 0.0, 1 / 4), "EA": (1 / 3, 1 / 2, 5 / 12)}


def test_per_group_rates_count_ungrouped_presentations_in_every_group():
    t = GROUPED_TEST
    per = group_metrics(t["score"], t["is_bonafide"], t["attack_type"], t["ethnicity"], 0.5)
    assert list(per) == ["AF", "CA", "EA"]
    for name, (apcer, bpcer_, acer) in GROUP_RATES.items():
        assert (per[name]["apcer"], per[name]["bpcer"], per[name]["acer"]) == pytest.approx((apcer, bpcer_, acer))
        assert per[name]["n_attack_per_pai"]["mask3d"] == 2
    assert (per["AF"]["n_bonafide"], per["AF"]["n_attack"]) == (3, 4)
    assert per["CA"]["apcer_per_pai"] == {"mask3d": 0.5, "replay": 0.5}
    assert bias_err(per) == pytest.approx({"apcer": 1 / 3, "bpcer": 5 / 6, "acer": 1 / 3})
    # just above the tie, every 0.5 is rejected together: AF BPCER 2/3, CA BPCER 1, no attack accepted
    above = group_metrics(t["score"], t["is_bonafide"], t["attack_type"], t["ethnicity"], 0.5000001)
    assert [above[g]["bpcer"] for g in ("AF", "CA", "EA")] == pytest.approx([2 / 3, 1.0, 1 / 2])
    assert [above[g]["apcer"] for g in ("AF", "CA", "EA")] == [0.0, 0.0, 0.0]


def test_bias_err_is_zero_for_equal_groups_and_none_for_a_missing_rate():
    same = {"AF": {"apcer": 0.25, "bpcer": 0.1, "acer": 0.175}, "CA": {"apcer": 0.25, "bpcer": 0.1, "acer": 0.175}}
    assert bias_err(same) == {"apcer": 0.0, "bpcer": 0.0, "acer": 0.0}
    no_bonafide = dict(same, EA={"apcer": 0.5, "bpcer": None, "acer": None})
    assert bias_err(no_bonafide) == {"apcer": pytest.approx(0.25), "bpcer": None, "acer": None}


def test_report_gives_per_group_rates_and_bias_err_at_the_dev_threshold(tmp_path):
    # dev: bona fide 0.6 0.7, attacks 0.4 0.3, all AF -> threshold 0.5, the midpoint of (0.4, 0.6];
    # one ethnicity only: no groups for dev
    dev = grouped([("d_bf1", "AF", "bonafide", 0.6), ("d_bf2", "AF", "bonafide", 0.7),
                   ("d_p1", "AF", "print", 0.4), ("d_p2", "AF", "print", 0.3)])
    report = evaluate_split_scores(dev, GROUPED_TEST, group_by="ethnicity")
    assert report["threshold"] == pytest.approx(0.5) and report["dev"]["groups"] is None
    groups = report["test"]["groups"]
    assert (groups["column"], groups["n_without_value"]) == ("ethnicity", 2)
    assert groups["bias_err"] == pytest.approx({"apcer": 1 / 3, "bpcer": 5 / 6, "acer": 1 / 3})
    assert_plain_json(report)
    metrics = json.loads(write_report(report, dev, GROUPED_TEST, tmp_path)["metrics"].read_text())
    for name, (apcer, bpcer_, acer) in GROUP_RATES.items():
        summary = metrics["test"]["by_ethnicity"][name]
        assert (summary["apcer"], summary["bpcer"], summary["acer"]) == pytest.approx((apcer, bpcer_, acer))
    assert metrics["test"]["bias_err"] == pytest.approx({"apcer": 1 / 3, "bpcer": 5 / 6, "acer": 1 / 3})
    assert "by_ethnicity" not in metrics["dev"]
    # the whole split counts each mask once: bona fide 0.4 0.3 of 7 rejected, attacks 0.5 0.5 0.5 of 7 accepted
    assert (metrics["test"]["bpcer"], metrics["test"]["apcer"]) == pytest.approx((2 / 7, 3 / 7))
    assert evaluate_split_scores(dev, GROUPED_TEST)["test"]["groups"] is None  # no group_by: none asked for


# ---------------------------------------------------------------- score schema

def write_csv(path, text):
    path.write_text(text)
    return path


GOOD = "video_id,is_bonafide,attack_type,score\n003,1,bonafide,0.9\n004,False,print,0.2\n"


def test_read_score_csv_normalises(tmp_path):
    df = read_score_csv(write_csv(tmp_path / "s.csv", GOOD))
    assert df["video_id"].tolist() == ["003", "004"]
    assert df["is_bonafide"].tolist() == [True, False] and df["score"].dtype == np.float64
    assert df["subject"].isna().all()


@pytest.mark.parametrize("text, column, problem", [
    ("video_id,is_bonafide,attack_type\n1,1,bonafide\n", "score", "missing column"),
    (GOOD + "5,0,print,abc\n", "score", "non-numeric"),
    (GOOD + "5,0,print,\n", "score", "NaN"),
    (GOOD + "5,0,print,nan\n", "score", "NaN"),
    (GOOD + "5,yes,print,0.1\n", "is_bonafide", "0/1/true/false"),
    (GOOD + "5,0,bonafide,0.1\n", "attack_type", "attack row"),
    (GOOD + "5,1,print,0.1\n", "attack_type", "bona fide row"),
    (GOOD + "003,0,print,0.1\n", "video_id", "duplicate"),
    (GOOD + ",0,print,0.1\n", "video_id", "empty"),
])
def test_read_score_csv_errors_name_file_and_column(tmp_path, text, column, problem):
    path = write_csv(tmp_path / "bad_scores.csv", text)
    with pytest.raises(ValueError) as err:
        read_score_csv(path)
    message = str(err.value)
    assert str(path) in message and f"column '{column}'" in message and problem in message


def window_table(rows):
    return pd.DataFrame(rows, columns=["key", "video_id", "subject", "is_bonafide", "attack_type", "score"])


def test_video_scores_mean_of_windows():
    # v1: (0.2 + 0.4 + 0.9)/3 = 0.5 over 3 windows; v2: 0.1 over 1 window
    windows = window_table([("v1_0", "v1", "s1", True, "bonafide", 0.2), ("v2_0", "v2", "s2", False, "print", 0.1),
                            ("v1_1", "v1", "s1", True, "bonafide", 0.4), ("v1_2", "v1", "s1", True, "bonafide", 0.9)])
    videos = video_scores(windows)
    assert videos["video_id"].tolist() == ["v1", "v2"]
    assert videos["score"].tolist() == pytest.approx([0.5, 0.1])
    assert videos["n_windows"].tolist() == [3, 1]
    assert videos["is_bonafide"].tolist() == [True, False] and videos["subject"].tolist() == ["s1", "s2"]
    validate_scores(videos)  # a valid video-level table


def test_video_scores_average_each_head_like_the_score():
    windows = window_table([("v1_0", "v1", "s1", True, "bonafide", 0.2), ("v1_1", "v1", "s1", True, "bonafide", 0.4),
                            ("v2_0", "v2", "s2", False, "print", 0.1)])
    windows["head:depth/static"] = [0.9, 0.5, 0.3]
    videos = video_scores(windows.drop(columns="key"))
    assert list(videos.columns)[-2:] == ["n_windows", "head:depth/static"]
    assert videos["head:depth/static"].tolist() == pytest.approx([0.7, 0.3])


@pytest.mark.parametrize("bad_row, column", [
    (("v1_1", "v1", "s1", False, "print", 0.4), "is_bonafide"),
    (("v2_1", "v2", "s2", False, "replay", 0.3), "attack_type"),
    (("v2_1", "v2", "s9", False, "print", 0.3), "subject"),
])
def test_video_scores_rejects_inconsistent_labels(bad_row, column):
    windows = window_table([("v1_0", "v1", "s1", True, "bonafide", 0.2), ("v2_0", "v2", "s2", False, "print", 0.1),
                            bad_row])
    with pytest.raises(ValueError, match=f"column '{column}'.*inconsistent.*'v[12]'"):
        video_scores(windows)


def test_dev_needs_both_classes():
    with pytest.raises(ValueError, match="dev: a threshold needs bona fide and attack"):
        evaluate_split_scores(table([0.9, 0.8], {}), TEST)
