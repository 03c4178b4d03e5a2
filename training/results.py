"""Turn evaluated runs into the tables papers print: every fold and seed, mean ± std, beside published numbers.

    python -m training.results [--runs models] [--out results] [--protocols oulu-3 cefa-4_1] [--seeds 0 1 2]
    python -m training.results --scores DIR --out OUT

From ``--runs``: every run ``training.evaluate`` wrote (its ``metrics.json`` names dataset, protocol and seed).
From ``--scores``: a folder per run named ``<dataset>-<protocol>[-<seed>]`` holding ``scores_dev.csv`` and
``scores_test.csv`` of any model, each evaluated as ``training.evaluate --scores-dev/--scores-test`` does
(threshold on dev, applied to test). Folds are grouped into the rows of ``training/tables.yaml`` (OULU-NPU 3_1 …
3_6 → 3) and summarised as :mod:`training.aggregate` says. Writes ``results.json`` (per dataset, row, split and
metric: mean, std, n, std_seeds, n_seeds; for ``dvc metrics show``), ``results.md`` (the tables) and ``runs.csv``
(every run's numbers).
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import storage
from pipeline.cli import add_params_argument, add_verbosity_arguments, argument_type, command, configure_logging
from pipeline.errors import UsageError
from pipeline.io import replace_atomically, write_json_atomic

from .aggregate import METRICS, SPLITS, STD_DEFINITION, Line, RunResult, aggregate, lines_found
from .metrics import evaluate_split_scores, metrics_summary, params_rule, threshold_rule
from .results_md import render
from .scores import read_score_csv
from .tables import RunName, Tables, load_tables

log = logging.getLogger(__name__)

SCORE_FILES = ("scores_dev.csv", "scores_test.csv")
ABOUT = {"values": "fractions (0 to 1), as metrics.json holds them; results.md prints percent",
         "threshold": "chosen on dev by each run's rule and applied unchanged to test",
         "mean": "mean of the fold means (each fold averaged over its seeds)", "std": STD_DEFINITION}


def evaluated_runs(folder: Path) -> list[RunResult]:
    """Every evaluation under ``folder``: the ``metrics.json`` files that name their dataset, protocol and seed."""
    if not folder.is_dir():
        raise UsageError(f"--runs {folder}: no such folder (runs are evaluated into models/ by dvc repro, or by "
                         "python -m training.evaluate)")
    runs = []
    for path in sorted(folder.rglob("metrics.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and {"dataset", "protocol", "seed", "rule"} <= set(document):
            runs.append(RunResult.from_metrics(document, str(path)))
    return runs


def scored_runs(folder: Path, rule: str, tables: Tables) -> list[RunResult]:
    """A run per sub-folder ``<dataset>-<protocol>[-<seed>]`` of ``folder``, evaluated from its two score files;
    every folder's name and files are checked before any is evaluated."""
    if not folder.is_dir():
        raise UsageError(f"--scores {folder}: no such folder")
    folders = sorted(path for path in folder.iterdir() if path.is_dir())
    named = [(run_dir, *_parse_folder(run_dir, tables)) for run_dir in folders]
    if not named:
        raise UsageError(f"--scores {folder}: no run folders (<dataset>-<protocol>[-<seed>]) in it")
    for run_dir, *_ in named:
        missing = [name for name in SCORE_FILES if not (run_dir / name).is_file()]
        if missing:
            raise UsageError(f"{run_dir} has no {' or '.join(missing)}: a run's folder holds both "
                             f"{' and '.join(SCORE_FILES)}")
    runs = []
    for run_dir, dataset, protocol, seed in named:
        dev, test = (read_score_csv(run_dir / name) for name in SCORE_FILES)
        summary = metrics_summary(evaluate_split_scores(dev, test, rule=rule))
        runs.append(RunResult.from_metrics(summary | {"dataset": dataset, "protocol": protocol, "seed": seed},
                                           str(run_dir)))
    return runs


def _parse_folder(run_dir: Path, tables: Tables) -> tuple[str, str, int]:
    parts = run_dir.name.split("-")
    if len(parts) not in (2, 3) or not all(parts) or (len(parts) == 3 and not parts[2].isdigit()):
        raise UsageError(f"{run_dir}: a run folder is named <dataset>-<protocol>[-<seed>] (oulu-3_1, oulu-3_1-2)")
    tables.dataset(parts[0]).row_of(parts[1])  # an unknown dataset or protocol ends here, in one line
    return parts[0], parts[1], int(parts[2]) if len(parts) == 3 else 0


def select(runs: list[RunResult], names: list[str] | None, seeds: list[int] | None, tables: Tables,
           partial: bool) -> tuple[list[RunResult], list[Line]]:
    """The runs the run names × seeds stand for, every one of which must be there (or ``partial``), and the lines
    of the table they make; without names, every run found (of ``seeds``) and the lines it makes."""
    wanted_seeds = set(seeds) if seeds is not None else {run.seed for run in runs}
    if names is None:
        kept = [run for run in runs if run.seed in wanted_seeds]
        return kept, lines_found(kept, tables)
    lines = [(run.dataset, row) for run in map(RunName.parse, names) for row in run.rows(tables)]
    wanted = {(dataset, fold) for dataset, row in lines for fold in row.folds}
    have = {(run.dataset, run.protocol, run.seed) for run in runs}
    missing = sorted(f"{d} {p} seed {s}" for d, p in wanted for s in wanted_seeds if (d, p, s) not in have)
    if missing and not partial:
        raise UsageError(f"no evaluated run of {', '.join(missing[:5])}{' …' * (len(missing) > 5)} ({len(missing)} "
                         "missing): evaluate it (dvc repro), or pass --partial")
    return [run for run in runs if (run.dataset, run.protocol) in wanted and run.seed in wanted_seeds], lines


def runs_table(runs: list[RunResult], tables: Tables) -> pd.DataFrame:
    """Every run's numbers, one row per (run, split, metric)."""
    rows = [{"dataset": run.dataset, "table_row": tables.dataset(run.dataset).row_of(run.protocol).protocol,
             "protocol": run.protocol, "seed": run.seed, "rule": run.rule, "split": split, "metric": metric,
             "value": run.splits[split][metric], "source": run.source}
            for run in runs for split in SPLITS for metric in METRICS]
    return pd.DataFrame(rows).sort_values(["dataset", "protocol", "seed", "split", "metric"], ignore_index=True)


def write_results(document: dict[str, Any], runs: list[RunResult], tables: Tables, out: Path, method: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic({"about": ABOUT, **document}, out / "results.json")
    text = render(document, tables, method)
    replace_atomically(out / "results.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    table = runs_table(runs, tables)
    replace_atomically(out / "runs.csv", lambda tmp: table.to_csv(tmp, index=False, float_format="%.10g"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.results", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--runs", type=Path, default=Path("models"),
                        help="folder searched for evaluated runs (their metrics.json) (default: models)")
    source.add_argument("--scores", type=Path, help="folder of <dataset>-<protocol>[-<seed>] folders, each with "
                                                    "scores_dev.csv and scores_test.csv of any model")
    parser.add_argument("--out", type=storage.local_folder, default=Path("results"),
                        help="local folder for results.json, results.md and runs.csv (default: results)")
    parser.add_argument("--protocols", nargs="+", metavar="RUN",
                        help="only these runs: <dataset>-<protocol> (oulu-3: every fold of row 3), or a dataset alone "
                             "(every row of its table); each must have been evaluated (default: every run found)")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                        help="only these seeds, each of which every selected protocol must have (default: all found)")
    parser.add_argument("--partial", action="store_true",
                        help="report a row that lacks a fold or seed over the runs it has (n says how many), "
                             "instead of stopping")
    parser.add_argument("--rule", type=argument_type(threshold_rule), metavar="{eer,bpcerN}",
                        help="with --scores: the threshold rule applied on dev, as training.evaluate's --rule "
                             "(default: evaluate.rule of params.yaml, else eer)")
    add_params_argument(parser, "evaluate.rule")
    parser.add_argument("--method", help="our rows' name in results.md (default: SD-Net (ours), or 'scores' with "
                                         "--scores)")
    add_verbosity_arguments(parser)
    return parser


@command("python -m training.results")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args)
    tables = load_tables()
    for name in args.protocols or []:
        RunName.parse(name).folds(tables)  # an unknown dataset or protocol ends here, before any file is read
    try:
        runs = (scored_runs(args.scores, args.rule or params_rule(args.params), tables) if args.scores
                else evaluated_runs(args.runs))
    except ValueError as error:  # a score file that does not follow the schema: bad data, named
        log.error("%s", error)
        return 1
    runs, lines = select(runs, args.protocols, args.seeds, tables, args.partial)
    if not runs:
        raise UsageError(f"no evaluated run under {args.runs}: run dvc repro, or python -m training.evaluate")
    document = aggregate(runs, lines, tables, args.partial)
    method = args.method or ("scores" if args.scores else "SD-Net (ours)")
    write_results(document, runs, tables, args.out, method)
    log.info("%d runs → %d table rows: %s", len(runs), sum(len(rows) for rows in document.values()),
             ", ".join(str(args.out / name) for name in ("results.md", "results.json", "runs.csv")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
