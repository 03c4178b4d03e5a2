"""PAD metrics in ISO/IEC 30107-3 terms, threshold rules, and the dev → test evaluation report.

Decision rule (the only place it is written): a presentation is **accepted as bona fide iff
score >= threshold**; scores follow :mod:`training.scores` (higher = more bona fide).

* ``apcer``: the fraction of all attack presentations accepted, pooled over every attack type, and
  ``acer`` = (APCER + BPCER) / 2: the definitions of the CeFA challenge and of the papers that report
  on CeFA, CASIA-SURF, OULU-NPU and SiW, so these compare with their tables.
* ``apcer_per_pai``: the APCER of each attack type (PAI species: the ``attack_type`` column);
  ``apcer_worst_pai`` the largest of them (ISO's worst case), ``worst_pai`` its type, and
  ``acer_worst_pai`` = (APCER_worst_pai + BPCER) / 2.
* BPCER: fraction of bona fide presentations rejected. ROC terms: FPR = APCER, TPR = 1 - BPCER.
* The cross-dataset papers' names: ``hter`` = (FAR + FRR) / 2 at the dev threshold, which is ``acer`` (FAR is the
  pooled APCER); ``hter_at_target_eer`` the same at the evaluated split's own EER threshold, i.e. ``own_eer``: a
  threshold tuned on the split itself, an **oracle**, and the HTER SSDG and its followers print; ``auc`` the area
  under the ROC curve.
* Per group (``group_by``, e.g. ethnicity): APCER, BPCER and ACER of each group's presentations, and
  BiasERR = Σ_e (ERR_e − min_e' ERR_e') for each of the three (CeFA, WACV 2021, eq. 4). A
  presentation without a value in that column counts in every group.
* Candidate thresholds are the unique scores plus +inf (reject everything): between two adjacent
  unique scores nothing changes, so tied scores always move together as one step.
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import UsageError
from pipeline.io import write_json_atomic
from pipeline.params import load_section

from .scores import validate_scores, write_score_csv

log = logging.getLogger(__name__)

ArrayLike = Any
DECISION = "accepted as bona fide iff score >= threshold"
DEFAULT_FPR_TARGETS = (1e-2, 1e-3, 1e-4)


def _arrays(scores: ArrayLike, is_bonafide: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    b = np.asarray(is_bonafide, dtype=bool).ravel()
    if s.shape != b.shape:
        raise ValueError(f"scores ({s.size}) and is_bonafide ({b.size}) differ in length")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return s, b


def _accepted_count(sorted_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``sorted_scores`` are >= each threshold."""
    return sorted_scores.size - np.searchsorted(sorted_scores, thresholds, side="left")


def _candidates(s: np.ndarray) -> np.ndarray:
    return np.append(np.unique(s), np.inf)


def _accepted_counts(s: np.ndarray, b: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(attacks accepted, bona fide accepted) at each threshold; both classes must be present."""
    att, bf = np.sort(s[~b]), np.sort(s[b])
    if att.size == 0 or bf.size == 0:
        raise ValueError(f"need both classes, got {bf.size} bona fide and {att.size} attack presentations")
    return _accepted_count(att, thresholds), _accepted_count(bf, thresholds)


def _rates(s: np.ndarray, b: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pooled APCER, BPCER) at each threshold; both classes must be present."""
    attacks, bonafide = _accepted_counts(s, b, thresholds)
    return attacks / (~b).sum(), 1.0 - bonafide / b.sum()


def apcer_per_pai(scores: ArrayLike, is_bonafide: ArrayLike, attack_type: ArrayLike,
                  threshold: float) -> dict[str, float]:
    """APCER of each attack type present (sorted by name): fraction of its presentations accepted."""
    s, b = _arrays(scores, is_bonafide)
    types = np.asarray(attack_type, dtype=object).ravel()
    return {str(t): float(np.mean(s[~b & (types == t)] >= threshold)) for t in sorted(set(types[~b]))}


def bpcer(scores: ArrayLike, is_bonafide: ArrayLike, threshold: float) -> float:
    """Fraction of bona fide presentations rejected (score < threshold)."""
    s, b = _arrays(scores, is_bonafide)
    if not b.any():
        raise ValueError("BPCER needs at least one bona fide presentation")
    return float(np.mean(s[b] < threshold))


def pad_metrics(scores: ArrayLike, is_bonafide: ArrayLike, attack_type: ArrayLike,
                threshold: float) -> dict[str, Any]:
    """APCER (pooled) and ACER, BPCER, the per-type and worst-type APCER with its ACER, and class counts.

    A rate whose class is absent is None (and so is every ACER that needs it).
    """
    s, b = _arrays(scores, is_bonafide)
    types = np.asarray(attack_type, dtype=object).ravel()
    per = apcer_per_pai(s, b, types, threshold)
    worst = max(sorted(per), key=per.__getitem__) if per else None  # ties: first by name
    apcer_worst = per[worst] if worst is not None else None
    apcer = float(np.mean(s[~b] >= threshold)) if (~b).any() else None
    bp = bpcer(s, b, threshold) if b.any() else None
    return {
        "apcer": apcer, "bpcer": bp, "acer": _acer(apcer, bp),
        "apcer_worst_pai": apcer_worst, "worst_pai": worst,
        "acer_worst_pai": _acer(apcer_worst, bp),  # apcer_worst is None exactly when apcer is
        "apcer_per_pai": per,
        "n_bonafide": int(b.sum()), "n_attack": int((~b).sum()),
        "n_attack_per_pai": {str(t): int(np.sum(~b & (types == t))) for t in per},
    }


def _acer(apcer: float | None, bp: float | None) -> float | None:
    """(APCER + BPCER) / 2; None when either rate is (its class is absent)."""
    return None if apcer is None or bp is None else (apcer + bp) / 2


#: The rates reported per group, and the ones BiasERR is computed for.
GROUP_RATES = ("apcer", "bpcer", "acer")


def _group_labels(groups: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Each presentation's group as text, and whether it has none (None, NaN or empty)."""
    values = pd.Series(np.asarray(groups, dtype=object).ravel())
    text = values.astype(str).str.strip()
    missing = values.isna().to_numpy() | (text == "").to_numpy()
    return text.to_numpy(), missing


def group_metrics(scores: ArrayLike, is_bonafide: ArrayLike, attack_type: ArrayLike, groups: ArrayLike,
                  threshold: float) -> dict[str, dict[str, Any]]:
    """:func:`pad_metrics` of each group (sorted by name) at one threshold.

    A presentation without a group counts in every group: CeFA's mask recordings have no ethnicity
    and belong to every ethnicity's test set.
    """
    s, b = _arrays(scores, is_bonafide)
    types = np.asarray(attack_type, dtype=object).ravel()
    labels, missing = _group_labels(groups)
    if labels.size != s.size:
        raise ValueError(f"scores ({s.size}) and groups ({labels.size}) differ in length")
    out = {}
    for name in sorted(set(labels[~missing])):
        keep = (labels == name) | missing
        out[name] = pad_metrics(s[keep], b[keep], types[keep], threshold)
    return out


def bias_err(per_group: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """BiasERR = Σ_e (ERR_e − min_e' ERR_e') over the groups e, for ERR = APCER, BPCER and ACER (CeFA,
    WACV 2021, eq. 4, written BiasEER there): 0 when every group has the same rate. None for a rate
    that some group does not have (no bona fide, or no attack, presentation)."""
    out: dict[str, float | None] = {}
    for rate in GROUP_RATES:
        values = [metrics[rate] for metrics in per_group.values()]
        out[rate] = None if any(v is None for v in values) else float(sum(v - min(values) for v in values))
    return out


def threshold_at_eer(scores: ArrayLike, is_bonafide: ArrayLike) -> tuple[float, float]:
    """(threshold, EER): the operating point minimising |APCER_pooled - BPCER|, EER = their mean there.

    Ties are broken towards the lowest such candidate; the gaps are compared exactly, as counts
    (|accepted attacks × bona fide - rejected bona fide × attacks|), since rates that are equal as
    fractions (1/4 - 1/6 and 1/3 - 1/4) can differ in floating point. Every threshold in (next lower
    score, candidate] gives the same rates; the midpoint of that interval is returned, so a dev split
    whose classes separate gets the threshold half-way between them rather than on the edge of
    its bona fide scores (which would reject any slightly lower bona fide score on test).
    """
    s, b = _arrays(scores, is_bonafide)
    cand = _candidates(s)
    attacks, bonafide = _accepted_counts(s, b, cand)
    n_attack, n_bonafide = int((~b).sum()), int(b.sum())
    rejected = n_bonafide - bonafide
    i = int(np.argmin(np.abs(attacks * n_bonafide - rejected * n_attack)))  # the first: the lowest threshold
    threshold = float(cand[i]) if i == 0 or not np.isfinite(cand[i]) else float((cand[i - 1] + cand[i]) / 2)
    return threshold, float((attacks[i] / n_attack + (1.0 - bonafide[i] / n_bonafide)) / 2)


def _threshold_at_apcer(s: np.ndarray, b: np.ndarray, types: np.ndarray | None, n: int) -> float:
    """Lowest candidate whose APCER (the worst type's, or pooled without types) is <= 1/n."""
    cand = _candidates(s)
    groups = [s[~b]] if types is None else [s[~b & (types == t)] for t in sorted(set(types[~b]))]
    if not groups or groups[0].size == 0:
        raise ValueError("an APCER-based threshold needs at least one attack presentation")
    ok = np.ones(cand.size, dtype=bool)
    for g in groups:  # exact integer test: accepted / size <= 1 / n
        ok &= _accepted_count(np.sort(g), cand) * n <= g.size
    return float(cand[np.argmax(ok)])  # ok is monotone and true at +inf


def threshold_rule(text: str) -> str:
    """A threshold rule's name as :func:`choose_threshold` reads it (``eer``, ``bpcer20``, …); refuses any other,
    so a command checks its ``--rule`` before any work."""
    name = text.strip().lower()
    match = re.fullmatch(r"bpcer(\d+)", name)
    if name != "eer" and not (match and int(match.group(1)) > 0):
        raise ValueError(f"unknown threshold rule {text!r}: expected eer or bpcerN, e.g. bpcer20")
    return name


#: The keys of params.yaml's evaluate section.
EVALUATE_KEYS = {"out", "rule"}


def params_rule(path: Path | None = None) -> str:
    """``evaluate.rule`` of params.yaml (eer where it has none), checked: the rule evaluate and results default to."""
    rule = str(load_section("evaluate", path, known=EVALUATE_KEYS).get("rule") or "eer")
    try:
        return threshold_rule(rule)
    except ValueError as error:
        raise UsageError(f"evaluate.rule = {rule!r}: {error}") from None


def choose_threshold(rule: str, scores: ArrayLike, is_bonafide: ArrayLike,
                     attack_type: ArrayLike | None = None) -> float:
    """Threshold by a named rule (bob.pad's names).

    * ``eer``: :func:`threshold_at_eer` (pooled APCER; ``attack_type`` unused).
    * ``bpcerN`` (``bpcer20``, ``bpcer100``, ...): the ISO operating point at which BPCER_N is read,
      APCER <= 1/N: the lowest candidate threshold whose APCER is <= 1/N (lowest = fewest bona fide
      rejected). APCER is the worst attack type's when ``attack_type`` is given (ISO worst case, like
      bob; :func:`evaluate_split_scores` gives it), otherwise pooled. The BPCER at this threshold is
      BPCER_N.
    """
    s, b = _arrays(scores, is_bonafide)
    name = rule.strip().lower()
    if name == "eer":
        return threshold_at_eer(s, b)[0]
    match = re.fullmatch(r"bpcer(\d+)", name)
    if match and int(match.group(1)) > 0:
        types = None if attack_type is None else np.asarray(attack_type, dtype=object).ravel()
        return _threshold_at_apcer(s, b, types, int(match.group(1)))
    raise ValueError(f"unknown threshold rule {rule!r}: expected 'eer' or 'bpcerN' (e.g. 'bpcer20')")


def fpr_key(target: float) -> str:
    """``1e-2`` style key of an FPR target (``0.01`` -> ``"1e-2"``, ``0.005`` -> ``"5e-3"``)."""
    mantissa, exponent = f"{target:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def tpr_at_fpr(scores: ArrayLike, is_bonafide: ArrayLike,
               fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS) -> dict[str, dict[str, Any]]:
    """TPR (bona fide accepted) at FPR (pooled APCER) <= target, keyed by :func:`fpr_key`.

    The operating point is the lowest candidate threshold with FPR <= target, which gives the largest
    TPR that satisfies it. With fewer than ceil(1/target) attacks a single accepted attack already
    exceeds the target, so the target cannot be measured: ``tpr``, ``fpr`` and ``threshold`` are then
    None and ``note`` says why (the value is never reported as if it were measured).
    """
    s, b = _arrays(scores, is_bonafide)
    cand = _candidates(s)
    fpr, bp = _rates(s, b, cand)
    n_att = int((~b).sum())
    out: dict[str, dict[str, Any]] = {}
    for target in fpr_targets:
        needed = math.ceil(1.0 / target - 1e-9)
        entry: dict[str, Any] = {"target": float(target), "n_attack": n_att, "min_attacks": needed,
                                 "tpr": None, "fpr": None, "threshold": None, "note": None}
        if n_att < needed:
            entry["note"] = (f"not measurable: {n_att} attack presentations, FPR {target:g} needs at least "
                             f"{needed} (one accepted attack gives FPR {1 / n_att:.3g})")
        else:
            i = int(np.argmax(fpr <= target + 1e-12))
            entry.update(tpr=float(1.0 - bp[i]), fpr=float(fpr[i]), threshold=float(cand[i]))
        out[fpr_key(target)] = entry
    return out


def _curve(scores: ArrayLike, is_bonafide: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values, labels = _arrays(scores, is_bonafide)
    thresholds = _candidates(values)[::-1]  # +inf, then scores descending
    return (thresholds, *_rates(values, labels, thresholds))


def roc_points(scores: ArrayLike, is_bonafide: ArrayLike) -> dict[str, np.ndarray]:
    """ROC (threshold, fpr, tpr), one point per candidate threshold from +inf (0, 0) down to the
    lowest score (1, 1); equal scores form a single step."""
    thresholds, apcer, bp = _curve(scores, is_bonafide)
    return {"threshold": thresholds, "fpr": apcer, "tpr": 1.0 - bp}


def det_points(scores: ArrayLike, is_bonafide: ArrayLike) -> dict[str, np.ndarray]:
    """DET (threshold, apcer, bpcer) with pooled APCER, same points and order as :func:`roc_points`."""
    thresholds, apcer, bp = _curve(scores, is_bonafide)
    return {"threshold": thresholds, "apcer": apcer, "bpcer": bp}


def _json_threshold(t: float | None) -> float | str | None:
    """Thresholds may be +inf (reject all), which strict JSON cannot hold: written as ``"inf"``."""
    return None if t is None else (float(t) if math.isfinite(t) else ("inf" if t > 0 else "-inf"))


def _group_report(df: pd.DataFrame, column: str | None, threshold: float) -> dict[str, Any] | None:
    """Per-group metrics and BiasERR over ``column``, when the split holds at least two of its values."""
    if not column or column not in df.columns:
        return None
    labels, missing = _group_labels(df[column])
    if len(set(labels[~missing])) < 2:
        return None
    per_group = group_metrics(df["score"], df["is_bonafide"], df["attack_type"], df[column], threshold)
    return {"column": column, "n_without_value": int(missing.sum()), "without_value": "counted in every group",
            "per_group": per_group, "bias_err": bias_err(per_group)}


def _split_report(df: pd.DataFrame, threshold: float, fpr_targets: tuple[float, ...],
                  group_by: str | None) -> dict[str, Any]:
    s, b, types = df["score"].to_numpy(), df["is_bonafide"].to_numpy(), df["attack_type"].to_numpy()
    report = pad_metrics(s, b, types, threshold)
    if b.any() and (~b).any():
        own_t, own_eer = threshold_at_eer(s, b)
        tpr = tpr_at_fpr(s, b, fpr_targets)
        for entry in tpr.values():
            entry["threshold"] = _json_threshold(entry["threshold"])
    else:
        log.warning("split has %d bona fide and %d attack videos: EER and TPR@FPR undefined",
                    int(b.sum()), int((~b).sum()))
        own_t, own_eer, tpr = None, None, {}
    report.update(own_eer=own_eer, own_eer_threshold=_json_threshold(own_t), tpr_at_fpr=tpr,
                  hter=report["acer"], hter_at_target_eer=own_eer, auc=auc(s, b) if own_t is not None else None,
                  groups=_group_report(df, group_by, threshold))
    return report


def auc(scores: ArrayLike, is_bonafide: ArrayLike) -> float:
    """Area under the ROC curve: the chance that a bona fide presentation scores above an attack, a tie counting
    one half (the Mann-Whitney statistic / (bona fide × attacks); the trapezoids under :func:`roc_points`)."""
    s, b = _arrays(scores, is_bonafide)
    attacks, bonafide = np.sort(s[~b]), s[b]
    if attacks.size == 0 or bonafide.size == 0:
        raise ValueError(f"AUC needs both classes, got {bonafide.size} bona fide and {attacks.size} attacks")
    below = np.searchsorted(attacks, bonafide, side="left")
    tied = np.searchsorted(attacks, bonafide, side="right") - below
    return float((below.sum() + tied.sum() / 2) / (bonafide.size * attacks.size))


ACER_DEFINITION = ("acer = (apcer + bpcer) / 2 with apcer pooled over all attack presentations (the CeFA "
                   "challenge's and the papers' ACER); acer_worst_pai = (apcer_worst_pai + bpcer) / 2 with the "
                   "worst attack type's APCER (ISO/IEC 30107-3)")


def evaluate_split_scores(dev: pd.DataFrame, test: pd.DataFrame, rule: str = "eer",
                          fpr_targets: tuple[float, ...] = DEFAULT_FPR_TARGETS,
                          group_by: str | None = None) -> dict[str, Any]:
    """Choose the threshold on ``dev`` by ``rule`` and apply it unchanged to ``test``.

    ``dev`` and ``test`` are video-level score tables (:func:`training.scores.video_scores`);
    they must not share a video_id. Returns a JSON-serialisable report (see module docs of
    :func:`write_report` for the files); ``own_eer`` of each split uses that split's own threshold
    (``own_eer_threshold``) and is not the error at the dev threshold. A split whose ``group_by``
    column holds two or more values also gets ``groups``: the rates of each group at the dev
    threshold and their BiasERR (None otherwise).
    """
    dev = validate_scores(dev, "dev")
    test = validate_scores(test, "test")
    shared = sorted(set(dev["video_id"]) & set(test["video_id"]))
    if shared:
        raise ValueError(f"dev and test share {len(shared)} video_id(s), e.g. {shared[:3]}: "
                         "the threshold would be tuned on test")
    n_bf = int(dev["is_bonafide"].sum())
    if n_bf == 0 or n_bf == len(dev):
        raise ValueError(f"dev: a threshold needs bona fide and attack videos, got {n_bf} of {len(dev)} bona fide")
    threshold = choose_threshold(rule, dev["score"], dev["is_bonafide"], dev["attack_type"])
    log.info("threshold %.6g chosen on dev by rule %r", threshold, rule)
    return {
        "rule": rule, "threshold": _json_threshold(threshold), "threshold_chosen_on": "dev",
        "decision": DECISION, "acer_definition": ACER_DEFINITION,
        "dev": _split_report(dev, threshold, fpr_targets, group_by),
        "test": _split_report(test, threshold, fpr_targets, group_by),
    }


#: What metrics.json keeps of a split's report, and of each of its groups.
SUMMARY_KEYS = ("acer", "apcer", "bpcer", "acer_worst_pai", "apcer_worst_pai", "own_eer", "hter", "hter_at_target_eer",
                "auc", "n_bonafide", "n_attack")
#: What metrics.json says of the numbers measured at a split's own threshold.
ORACLE_NOTE = ("own_eer and hter_at_target_eer are at each split's own EER threshold, tuned on that split itself: "
               "an oracle (the HTER that SSDG and its followers print); every other rate is at the dev threshold")
GROUP_SUMMARY_KEYS = ("acer", "apcer", "bpcer", "acer_worst_pai", "n_bonafide", "n_attack")


def metrics_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics.json`` document: the threshold rule, then numbers only (None where undefined).

    Per split: :data:`SUMMARY_KEYS`, ``tpr@fpr=…``, ``apcer_per_pai`` and, for a split with groups,
    ``by_<column>`` (each group's :data:`GROUP_SUMMARY_KEYS`) and ``bias_err``.
    """
    def split(r: dict[str, Any]) -> dict[str, Any]:
        out = {k: r[k] for k in SUMMARY_KEYS}
        out.update({f"tpr@fpr={k}": v["tpr"] for k, v in r["tpr_at_fpr"].items()})
        out["apcer_per_pai"] = dict(r["apcer_per_pai"])
        if r["groups"] is not None:
            per_group = r["groups"]["per_group"].items()
            out[f"by_{r['groups']['column']}"] = {g: {k: m[k] for k in GROUP_SUMMARY_KEYS} for g, m in per_group}
            out["bias_err"] = dict(r["groups"]["bias_err"])
        return out
    return {"rule": report["rule"], "threshold": report["threshold"], "oracle": ORACLE_NOTE,
            "dev": split(report["dev"]), "test": split(report["test"])}


def has_both_classes(table: pd.DataFrame) -> bool:
    """Whether a score table has bona fide and attack presentations: what a ROC or DET curve needs."""
    return bool(table["is_bonafide"].any() and (~table["is_bonafide"]).any())


def plottable_splits(dev: pd.DataFrame, test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The splits that have both classes, validated."""
    splits = {name: validate_scores(table, name) for name, table in (("dev", dev), ("test", test))}
    return {name: table for name, table in splits.items() if has_both_classes(table)}


def write_report(report: dict[str, Any], dev: pd.DataFrame, test: pd.DataFrame,
                 out_dir: str | Path, identity: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the evaluation outputs into ``out_dir`` and return their paths by name.

    ``metrics.json`` (the run's ``identity``, e.g. dataset, protocol and seed, and :func:`metrics_summary`),
    ``report.json`` (the full report), ``roc_{dev,test}.csv`` (threshold,fpr,tpr) and ``det_{dev,test}.csv``
    (threshold,apcer,bpcer) — one file per split, so ``dvc plots`` can overlay them as separate lines
    with its stock templates — and ``scores_{dev,test}.csv`` (per video, plus ``accepted`` at the
    dev threshold).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    threshold = float(report["threshold"])  # "inf" parses too
    paths = {"metrics": out / "metrics.json", "report": out / "report.json"}
    write_json_atomic((identity or {}) | metrics_summary(report), paths["metrics"])
    write_json_atomic(report, paths["report"])
    for name, table in (("dev", dev), ("test", test)):
        table = validate_scores(table, name)
        if has_both_classes(table):
            for kind, points in (("roc", roc_points), ("det", det_points)):
                paths[f"{kind}_{name}"] = out / f"{kind}_{name}.csv"
                write_score_csv(pd.DataFrame(points(table["score"], table["is_bonafide"])), paths[f"{kind}_{name}"])
        table = table.assign(accepted=table["score"] >= threshold)
        paths[f"scores_{name}"] = out / f"scores_{name}.csv"
        write_score_csv(table, paths[f"scores_{name}"])
    log.info("evaluation written to %s", out)
    return paths
