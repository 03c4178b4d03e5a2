"""Evaluate on a protocol: threshold chosen on dev, applied unchanged to test.

    python -m training.evaluate --dataset cefa --protocol 4_1 [--seed N] [--checkpoint PATH]
    python -m training.evaluate --run oulu-3 --seed 1     # every fold of OULU-NPU Protocol 3
    python -m training.evaluate --scores-dev dev.csv --scores-test test.csv --out results/other-model

With a checkpoint (default: ``checkpoint.pt`` in the protocol's ``train.out``), every dev and test window is
scored by SD-Net and video scores are the mean of their windows; the report goes to ``evaluate.out``. Any other
model's per-video scores can be evaluated the same way from CSV files with the columns
``video_id,score,is_bonafide,attack_type`` (score higher = more bona fide). Writes ``metrics.json`` (the rule,
the run's dataset, protocol and seed, and the numbers: what ``training.results`` tabulates), ROC/DET data,
``roc.png`` and ``det.png`` (the dev threshold's operating point marked) and per-video scores.

Per-group rates and BiasERR (``--group-by``, default ``ethnicity``) come from that column of the score
table; SD-Net runs, and CSV runs given ``--manifests``, join it from ``videos.parquet`` by video_id.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from torch import Tensor

from pipeline import storage
from pipeline.cli import add_params_argument, add_verbosity_arguments, argument_type, command, configure_logging
from pipeline.errors import UsageError
from pipeline.format.splits import SplitIndex
from pipeline.params import load_section, suggestion

from .checkpoint import load_checkpoint, load_trained
from .config import TRAIN_KEYS, TrainConfig, fill, fold_configs
from .distributed import setup, teardown
from .metrics import EVALUATE_KEYS, evaluate_split_scores, params_rule, threshold_rule, write_report
from .model import SDNet
from .plots import write_curve_plots
from .scores import HEAD_PREFIX, read_score_csv, video_scores
from .scoring import score_windows

log = logging.getLogger(__name__)


def score_splits(config: TrainConfig, checkpoint: Path, splits: list[str], batch_size: int,
                 num_workers: int) -> list[pd.DataFrame]:
    """Video scores of each split by the checkpoint's SD-Net (loaded once for all of them); joins the
    process group under torchrun and leaves it, however scoring ends."""
    model, trained = load_trained(checkpoint)
    index = SplitIndex.load(config.manifests)
    shards = [index.split(config.protocol, split, config.shards) for split in splits]
    dist = setup()
    try:
        model = model.to(dist.device)
        scores = []
        for split_shards in shards:
            wanted = list(split_shards.modalities)
            if wanted == trained:
                # evaluation reports numbers on the whole split or none: a corrupt window stops it
                windows = score_windows(model, split_shards, trained, batch_size, num_workers, dist.device,
                                        dist.world_size, fail_fast=True)
            else:
                windows = _cross_modality_windows(model, split_shards, trained, wanted, batch_size, num_workers, dist)
            scores.append(video_scores(windows))
        return scores
    finally:
        teardown()


def _cross_modality_windows(model, shards, trained, wanted, batch_size, num_workers, dist) -> pd.DataFrame:
    """CeFA Protocol 3: a one-modality model sees each test modality in turn; window score = their mean."""
    if len(trained) != 1:
        raise ValueError(f"cross-modality evaluation needs a one-modality model, this one uses {trained}")
    per_modality = []
    for modality in wanted:
        renamed = _RenamedModel(model, source=modality, target=trained[0])
        windows = score_windows(renamed, shards, [modality], batch_size, num_workers, dist.device, dist.world_size,
                                fail_fast=True)
        per_modality.append(windows.set_index("key"))
    merged = per_modality[0].copy()
    for column in [c for c in merged.columns if c == "score" or c.startswith(HEAD_PREFIX)]:
        merged[column] = pd.concat([frame[column] for frame in per_modality], axis=1).mean(axis=1)  # aligned by key
    return merged.reset_index()


class _RenamedModel:
    """Feeds modality ``source``'s images into the branch trained on ``target``; a ``ScoringModel`` for
    :func:`~training.scoring.score_windows`."""

    def __init__(self, model: SDNet, source: str, target: str) -> None:
        self.model, self.source, self.target, self.training = model, source, target, False

    def __call__(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return self.model({k.replace(self.source, self.target, 1): v for k, v in inputs.items()})

    def score(self, logits: Mapping[str, Tensor]) -> Tensor:
        return self.model.score(logits)

    @property
    def head_names(self) -> list[str]:
        return self.model.head_names

    def eval(self) -> None:
        self.model.eval()

    def train(self, mode: bool = True) -> None:
        self.model.train(mode)


#: What per-group rates are reported by, where the data has it and no --group-by is given.
DEFAULT_GROUP = "ethnicity"


def with_attribute(scores: pd.DataFrame, manifests: str | Path, column: str | None) -> pd.DataFrame:
    """``scores`` with ``column`` of ``manifests/videos.parquet`` (a folder or URL) joined by video_id; unchanged
    when the scores already carry it, or no column is asked for, or the manifest has none."""
    videos = storage.join(manifests, "videos.parquet")
    if not column or column in scores.columns:
        return scores
    if not storage.is_file(videos) or column not in storage.parquet_columns(videos):
        log.info("%s has no %r column: no per-group metrics", videos, column)
        return scores
    attributes = storage.read_parquet(videos, columns=["video_id", column])
    return scores.merge(attributes, on="video_id", how="left", validate="many_to_one")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="<dataset>[-<protocol>] instead of --dataset and --protocol: oulu-3 evaluates "
                                      "every fold of OULU-NPU's row 3, oulu every row of its table")
    parser.add_argument("--dataset", help="dataset of the protocol (with --protocol)")
    parser.add_argument("--protocol", help="protocol name or alias (4_1, 4@1, p4.1), or a row with folds (3)")
    parser.add_argument("--seed", type=int, help="the seed the model was trained with (fills {seed} in the paths; "
                                                 "default: 0)")
    parser.add_argument("--checkpoint", type=Path, help="the model to evaluate (default: <train.out>/checkpoint.pt; "
                        "after `train --out DIR`, give DIR/checkpoint.pt): it must have been trained on --protocol")
    parser.add_argument("--manifests", help="manifest folder or URL with splits.json and videos.parquet (default: "
                        "train.manifests; with --scores-*: where to join --group-by from)")
    parser.add_argument("--shards", help="shard folder or URL (s3://bucket/prefix), streamed from (default: "
                                         "train.shards)")
    parser.add_argument("--scores-dev", type=Path, help="per-video dev scores of any model (CSV)")
    parser.add_argument("--scores-test", type=Path, help="per-video test scores of any model (CSV)")
    parser.add_argument("--out", type=storage.local_folder, help="local report folder (default: evaluate.out, or eval/ "
                                                                 "beside a --checkpoint)")
    parser.add_argument("--rule", type=argument_type(threshold_rule), metavar="{eer,bpcerN}",
                        help="threshold rule applied on dev: eer (pooled APCER = BPCER) or bpcerN, e.g. bpcer20 "
                             "(worst attack type's APCER <= 1/N) (default: evaluate.rule, else eer)")
    parser.add_argument("--group-by",
                        help="column to report APCER/BPCER/ACER per value of, with BiasERR, where a split holds "
                             "two or more values; rows without a value count in every group; a column named here "
                             "must exist (default: ethnicity, where the data has it; none: off)")
    add_params_argument(parser, "the evaluate section, the train section's paths and batch size, and the storage "
                                "section,")
    add_verbosity_arguments(parser)
    return parser


def _checkpoint_runs(args: argparse.Namespace, named_group: bool) -> list[tuple[TrainConfig, Path, Path]]:
    """(settings, checkpoint, report folder) of every protocol the command's run stands for, each checkpoint checked
    to be a model of its protocol and seed, and a ``named_group`` column checked to be in videos.parquet, before any
    scoring."""
    train_args = argparse.Namespace(run=args.run, dataset=args.dataset, protocol=args.protocol, seed=args.seed,
                                    manifests=args.manifests, shards=args.shards)
    configs = fold_configs(train_args, load_section("train", args.params, known=TRAIN_KEYS))
    if len(configs) > 1 and args.checkpoint:
        raise UsageError(f"--checkpoint names one model, this run has {len(configs)} protocols: pass one protocol")
    template = str(args.out) if args.out else None if args.checkpoint else _settings(args.params).get("out")
    if len(configs) > 1 and "{protocol}" not in str(template):
        raise UsageError(f"--out {template}: {len(configs)} protocols would share it; put {{protocol}} in it")
    runs = []
    for config in configs:
        checkpoint = args.checkpoint or Path(config.out) / "checkpoint.pt"
        check_trained_on(checkpoint, config)
        names = {"dataset": config.dataset, "protocol": config.protocol, "seed": config.seed, "run": config.run}
        out = Path(fill("evaluate.out", str(template), names)) if template else checkpoint.parent / "eval"
        runs.append((config, checkpoint, out))
    if named_group:
        videos = storage.join(configs[0].manifests, "videos.parquet")
        _check_group_column(args.group_by, storage.parquet_columns(videos))
    return runs


def _check_group_column(column: str, columns: Iterable[str]) -> None:
    """A --group-by column named by the user must exist: a typo must not quietly drop the per-group report."""
    if column not in columns:
        raise UsageError(f"--group-by {column}: no such column in the scores or videos.parquet; "
                         f"{suggestion(column, columns, '--group-by ')} (--group-by none: no per-group report)")


def check_trained_on(checkpoint: Path, config: TrainConfig) -> None:
    """The checkpoint must be a model of this dataset, protocol and seed: evaluate never scores another model
    silently."""
    trained = load_checkpoint(checkpoint).get("config", {})
    if (trained.get("dataset"), trained.get("protocol")) != (config.dataset, config.protocol):
        raise UsageError(f"{checkpoint} was trained on {trained.get('dataset')} protocol {trained.get('protocol')}, "
                         f"not {config.dataset} {config.protocol}: pass --checkpoint of a {config.protocol} model")
    seed = trained.get("seed", 0)  # checkpoints of the runs before seeds were named: seed 0
    if seed != config.seed:
        raise UsageError(f"{checkpoint} was trained with seed {seed}, not {config.seed}: pass --seed {seed}")
    log.info("evaluating %s (%s %s, seed %d, %d epochs, %s head)", checkpoint, config.dataset, config.protocol,
             config.seed, trained.get("epochs", 0), trained.get("final_head", "shared"))


def _settings(path: Path | None) -> dict[str, Any]:
    """params.yaml's evaluate section."""
    return load_section("evaluate", path, known=EVALUATE_KEYS)


@command("python -m training.evaluate")
def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(args)
    storage.configure(load_section("storage", args.params))
    args.rule = args.rule or params_rule(args.params)
    named_group = args.group_by is not None and args.group_by.lower() != "none"
    args.group_by = DEFAULT_GROUP if args.group_by is None else args.group_by if named_group else None
    if args.scores_dev or args.scores_test:
        if not (args.scores_dev and args.scores_test and args.out):
            parser.error("--scores-dev, --scores-test and --out go together")
        return _evaluate_score_files(args, named_group)
    for config, checkpoint, out in _checkpoint_runs(args, named_group):
        dev, test = score_splits(config, checkpoint, ["dev", "test"], config.batch_size, config.num_workers)
        dev, test = (with_attribute(table, config.manifests, args.group_by) for table in (dev, test))
        identity = {"dataset": config.dataset, "protocol": config.protocol, "seed": config.seed, "run": config.run}
        _report(evaluate_split_scores(dev, test, rule=args.rule, group_by=args.group_by), dev, test, out, identity)
    return 0


def _evaluate_score_files(args: argparse.Namespace, named_group: bool) -> int:
    try:
        dev, test = (read_score_csv(path) for path in (args.scores_dev, args.scores_test))
        if args.manifests:
            dev, test = (with_attribute(table, args.manifests, args.group_by) for table in (dev, test))
        if named_group:
            _check_group_column(args.group_by, dev.columns)
        report = evaluate_split_scores(dev, test, rule=args.rule, group_by=args.group_by)
    except ValueError as error:  # a score file that does not follow the schema: bad data, named
        log.error("%s", error)
        return 1
    _report(report, dev, test, args.out)
    return 0


def _report(report: dict[str, Any], dev: pd.DataFrame, test: pd.DataFrame, out: Path,
            identity: dict[str, Any] | None = None) -> None:
    write_report(report, dev, test, out, identity)
    write_curve_plots(dev, test, float(report["threshold"]), out)
    _log_headline(report, out)


def _log_headline(report: dict, out: Path) -> None:
    test = report["test"]
    log.info("threshold %s (%s on dev) → test ACER %s (APCER %s, BPCER %s); worst attack type %s: ACER %s → %s",
             report["threshold"], report["rule"], test["acer"], test["apcer"], test["bpcer"], test["worst_pai"],
             test["acer_worst_pai"], out)
    if test["groups"] is not None:
        log.info("test BiasERR over %s: %s", test["groups"]["column"], test["groups"]["bias_err"])


if __name__ == "__main__":
    raise SystemExit(main())
