"""Runs → table rows: every fold of a protocol and every seed, as mean ± standard deviation.

A run is one evaluated (dataset, protocol, seed). The runs of a table row (:mod:`training.tables`) form a grid
of folds × seeds, and each metric is summarised twice:

* ``mean``: the mean over every run of the row;
* ``std`` (``n`` folds): the spread across folds, each fold first averaged over its seeds: the ± that papers
  print for a protocol with folds (OULU-NPU 3 and 4, SiW 2 and 3, CeFA 1-4). None for a row without folds;
* ``std_seeds`` (``n_seeds``): the spread across seeds, each seed first averaged over the folds: how much the
  row's number moves when only the random seed changes. None with one seed.

Both are **sample** standard deviations (divisor n - 1). The folds of a protocol and the seeds of a run are
few (2 to 6, often 3), and the population formula (divisor n, numpy's default and bob's ``pad multi-metrics``)
would understate the spread by up to 29 % at n = 2; ``n`` is written beside each, so either can be had from the
other (population = sample × √((n - 1) / n)).

A row must be complete (every fold with every seed any fold has), or the command names what is missing: an
average over fewer folds is not the protocol's number. ``partial=True`` reports it anyway, with ``missing``.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import UsageError

from .metrics import DEFAULT_FPR_TARGETS, fpr_key
from .tables import Row, Tables

#: The metrics summarised, as ``metrics.json`` names them (``own_eer``: the split's equal error rate at its own
#: threshold).
METRICS = ("apcer", "apcer_worst_pai", "bpcer", "acer", "acer_worst_pai", "own_eer", "hter", "hter_at_target_eer",
           "auc", *(f"tpr@fpr={fpr_key(target)}" for target in DEFAULT_FPR_TARGETS))
SPLITS = ("dev", "test")

log = logging.getLogger(__name__)
STD_DEFINITION = ("sample standard deviation (divisor n - 1): std over the folds of a row (each fold averaged over "
                  "its seeds), std_seeds over the seeds (each seed averaged over the folds)")


@dataclass(frozen=True)
class RunResult:
    """One evaluated run: its identity, the threshold rule it used, and its metrics per split."""

    dataset: str
    protocol: str
    seed: int
    rule: str
    splits: dict[str, dict[str, float | None]]
    source: str  # where it was read from, for messages

    @classmethod
    def from_metrics(cls, document: dict[str, Any], source: str) -> RunResult:
        """A run from its ``metrics.json`` (as :func:`training.metrics.metrics_summary` writes it)."""
        splits = {split: {metric: document[split].get(metric) for metric in METRICS} for split in SPLITS}
        return cls(str(document["dataset"]), str(document["protocol"]), int(document["seed"]),
                   str(document["rule"]), splits, source)


def spread(values: Iterable[float]) -> float | None:
    """The sample standard deviation of ``values``; None below two values."""
    array = np.asarray(list(values), dtype=np.float64)
    return float(array.std(ddof=1)) if array.size > 1 else None


def summarise(grid: dict[tuple[str, int], float | None], folds: list[str], seeds: list[int]) -> dict[str, Any]:
    """One metric's values by (fold, seed) → ``mean`` (of the fold means), ``std``/``n`` across folds and
    ``std_seeds``/``n_seeds`` across seeds. A None value (a TPR the split cannot measure) leaves the summary
    without numbers and says in how many runs."""
    folds = [f for f in folds if any((f, s) in grid for s in seeds)]
    seeds = [s for s in seeds if any((f, s) in grid for f in folds)]
    out: dict[str, Any] = {"mean": None, "std": None, "n": len(folds), "std_seeds": None, "n_seeds": len(seeds)}
    unmeasured = sum(value is None for value in grid.values())
    if unmeasured:
        out["not_measured"] = f"{unmeasured} of {len(grid)} runs"
        return out
    values = {key: float(value) for key, value in grid.items() if value is not None}
    fold_means = [float(np.mean([values[f, s] for s in seeds if (f, s) in values])) for f in folds]
    seed_means = [float(np.mean([values[f, s] for f in folds if (f, s) in values])) for s in seeds]
    out.update(mean=float(np.mean(fold_means)), std=spread(fold_means),
               std_seeds=spread(seed_means))
    return out


#: A line of our table: a dataset and the row (or lone protocol) it reports.
Line = tuple[str, Row]


def lines_found(runs: list[RunResult], tables: Tables) -> list[Line]:
    """The lines the runs make when none were asked for: a row of a paper's table when every one of its folds was
    evaluated, else each evaluated protocol on a line of its own (logged: never averaged into a row it does not
    complete)."""
    lines: list[Line] = []
    for dataset in sorted({run.dataset for run in runs}):
        table = tables.dataset(dataset)
        present = {run.protocol for run in runs if run.dataset == dataset}
        for row in (*table.rows, *(Row(p, (p,)) for p in table.others)):
            found = [fold for fold in row.folds if fold in present]
            if len(found) == len(row.folds):
                lines.append((dataset, row))
            elif found:
                log.warning("%s %s: %d of its %d folds evaluated (%s missing): each reported on its own line",
                            dataset, row.protocol, len(found), len(row.folds),
                            ", ".join(f for f in row.folds if f not in present))
                lines += [(dataset, Row(fold, (fold,))) for fold in found]
        for protocol in sorted(present - set(table.protocols)):
            table.row_of(protocol)  # a protocol tables.yaml does not know is refused, in one line
    return lines


def aggregate(runs: list[RunResult], lines: list[Line], tables: Tables, partial: bool = False) -> dict[str, Any]:
    """``{dataset: {line: {folds, seeds, runs, rule, [missing], dev: {metric: summary}, test: …}}}`` in table order."""
    seen: dict[tuple[str, str, int], str] = {}
    for run in runs:
        key = (run.dataset, run.protocol, run.seed)
        if key in seen:
            raise UsageError(f"two evaluations of {run.dataset} {run.protocol} seed {run.seed}: {seen[key]} and "
                             f"{run.source}; keep one")
        seen[key] = run.source
    document: dict[str, Any] = {}
    for dataset, row in sorted(set(lines), key=lambda line: _position(line, tables)):
        members = [run for run in runs if run.dataset == dataset and run.protocol in row.folds]
        document.setdefault(dataset, {})[row.protocol] = _line(dataset, row, members, partial)
    return document


def _position(line: Line, tables: Tables) -> tuple[int, int, int]:
    """Where a line goes: its dataset's place in tables.yaml, then its row's, then (a lone fold) the fold's."""
    dataset, row = line
    table = tables.dataset(dataset)
    folds = table.protocols
    home = table.row_of(row.folds[0])
    rows = [r.protocol for r in table.rows]
    return (list(tables.datasets).index(dataset), rows.index(home.protocol) if home.protocol in rows else len(rows),
            -1 if row.has_folds else folds.index(row.folds[0]))


def _line(dataset: str, row: Row, members: list[RunResult], partial: bool) -> dict[str, Any]:
    name, folds = row.protocol, list(row.folds)
    if not members:
        raise UsageError(f"{dataset} {name}: no evaluated run of it (evaluate it: dvc repro, or python -m "
                         "training.evaluate)")
    seeds = sorted({run.seed for run in members})
    rules = sorted({run.rule for run in members})
    if len(rules) > 1:
        raise UsageError(f"{dataset} {name}: its runs used different threshold rules ({', '.join(rules)}); evaluate "
                         "them with one --rule")
    have = {(run.protocol, run.seed): run for run in members}
    missing = [f"{fold} seed {seed}" for fold in folds for seed in seeds if (fold, seed) not in have]
    if missing and not partial:
        raise UsageError(f"{dataset} {name}: no evaluated run of {', '.join(missing)} ({len(have)} of "
                         f"{len(folds) * len(seeds)} runs: {len(folds)} folds × {len(seeds)} seeds); evaluate "
                         "it, or pass --partial to report the row over the runs there are")
    line: dict[str, Any] = {"folds": folds, "seeds": seeds, "runs": len(have), "rule": rules[0]}
    if missing:
        line["missing"] = missing
    for split in SPLITS:
        line[split] = {metric: summarise({key: run.splits[split][metric] for key, run in have.items()}, folds, seeds)
                       for metric in METRICS}
    return line
