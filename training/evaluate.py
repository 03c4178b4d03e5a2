"""Evaluate on a protocol: threshold chosen on dev, applied unchanged to test.

    python -m training.evaluate --dataset cefa --protocol 4_1 [--checkpoint models/cefa-4_1/checkpoint.pt]
    python -m training.evaluate --scores-dev dev.csv --scores-test test.csv --out results/other-model

With a checkpoint, every dev and test window is scored by SD-Net and video scores are the mean of
their windows. Any other model's per-video scores can be evaluated the same way from CSV files with
the columns ``video_id,score,is_bonafide,attack_type`` (score higher = more bona fide). Writes
``metrics.json`` (for ``dvc metrics show``), ROC/DET data (for ``dvc plots``), ``roc.png`` and ``det.png``
(the dev threshold's operating point marked) and per-video scores.

Per-group rates and BiasERR (``--group-by``, default ``ethnicity``) come from that column of the score
table; SD-Net runs, and CSV runs given ``--manifests``, join it from ``videos.parquet`` by video_id.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
from torch import Tensor

from pipeline import storage
from pipeline.cli import add_verbosity_arguments, command, configure_logging
from pipeline.errors import UsageError
from pipeline.format.splits import SplitIndex
from pipeline.params import load_section, suggestion

from .checkpoint import load_checkpoint, load_trained
from .config import TRAIN_KEYS, TrainConfig, config_from_args
from .distributed import setup, teardown
from .metrics import evaluate_split_scores, threshold_rule, write_report
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
    parser.add_argument("--dataset", help="dataset of the protocol (with --protocol)")
    parser.add_argument("--protocol", help="protocol name or alias (4_1, 4@1, p4.1)")
    parser.add_argument("--checkpoint", type=Path, help="the model to evaluate (default: <train.out>/checkpoint.pt; "
                        "after `train --out DIR`, give DIR/checkpoint.pt): it must have been trained on --protocol")
    parser.add_argument("--manifests", help="manifest folder or URL with splits.json and videos.parquet (default: "
                        "train.manifests; with --scores-*: where to join --group-by from)")
    parser.add_argument("--shards", help="shard folder or URL (s3://bucket/prefix), streamed from (default: "
                                         "train.shards)")
    parser.add_argument("--scores-dev", type=Path, help="per-video dev scores of any model (CSV)")
    parser.add_argument("--scores-test", type=Path, help="per-video test scores of any model (CSV)")
    parser.add_argument("--out", type=storage.local_folder, help="local report folder (default: eval/ beside the "
                                                                 "checkpoint)")
    parser.add_argument("--rule", default="eer", type=_rule, metavar="{eer,bpcerN}",
                        help="threshold rule applied on dev: eer (pooled APCER = BPCER) or bpcerN, e.g. bpcer20 "
                             "(worst attack type's APCER <= 1/N) (default: eer)")
    parser.add_argument("--group-by",
                        help="column to report APCER/BPCER/ACER per value of, with BiasERR, where a split holds "
                             "two or more values; rows without a value count in every group; a column named here "
                             "must exist (default: ethnicity, where the data has it; none: off)")
    parser.add_argument("--params", type=Path, help="params.yaml to read the train section's paths and batch size, "
                                                    "and the storage section, from (default: the working "
                                                    "directory's, else the project's)")
    add_verbosity_arguments(parser)
    return parser


def _rule(text: str) -> str:
    try:
        return threshold_rule(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _checkpoint_scores(args: argparse.Namespace, named_group: bool) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """Dev and test video scores of the protocol's checkpoint (with the --group-by column), and the report folder;
    a ``named_group`` column must be in videos.parquet (checked before any scoring)."""
    train_args = argparse.Namespace(dataset=args.dataset, protocol=args.protocol, manifests=args.manifests,
                                    shards=args.shards)
    config = config_from_args(train_args, load_section("train", args.params, known=TRAIN_KEYS))
    checkpoint = args.checkpoint or Path(config.out) / "checkpoint.pt"
    check_trained_on(checkpoint, config)
    if named_group:
        _check_group_column(args.group_by, storage.parquet_columns(storage.join(config.manifests, "videos.parquet")))
    dev, test = score_splits(config, checkpoint, ["dev", "test"], config.batch_size, config.num_workers)
    dev, test = (with_attribute(table, config.manifests, args.group_by) for table in (dev, test))
    return dev, test, args.out or checkpoint.parent / "eval"


def _check_group_column(column: str, columns: Iterable[str]) -> None:
    """A --group-by column named by the user must exist: a typo must not quietly drop the per-group report."""
    if column not in columns:
        raise UsageError(f"--group-by {column}: no such column in the scores or videos.parquet; "
                         f"{suggestion(column, columns, '--group-by ')} (--group-by none: no per-group report)")


def check_trained_on(checkpoint: Path, config: TrainConfig) -> None:
    """The checkpoint must be a model of this dataset and protocol: evaluate never scores another model silently."""
    trained = load_checkpoint(checkpoint).get("config", {})
    if (trained.get("dataset"), trained.get("protocol")) != (config.dataset, config.protocol):
        raise UsageError(f"{checkpoint} was trained on {trained.get('dataset')} protocol {trained.get('protocol')}, "
                         f"not {config.dataset} {config.protocol}: pass --checkpoint of a {config.protocol} model")
    log.info("evaluating %s (%s %s, %d epochs, %s head)", checkpoint, config.dataset, config.protocol,
             trained.get("epochs", 0), trained.get("final_head", "shared"))


@command("python -m training.evaluate")
def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(args)
    storage.configure(load_section("storage", args.params))
    named_group = args.group_by is not None and args.group_by.lower() != "none"
    args.group_by = DEFAULT_GROUP if args.group_by is None else args.group_by if named_group else None
    if args.scores_dev or args.scores_test:
        if not (args.scores_dev and args.scores_test and args.out):
            parser.error("--scores-dev, --scores-test and --out go together")
    elif not (args.dataset and args.protocol):
        parser.error("give --dataset and --protocol (or --scores-dev/--scores-test)")
    try:
        if args.scores_dev:
            dev, test = (read_score_csv(path) for path in (args.scores_dev, args.scores_test))
            if args.manifests:
                dev, test = (with_attribute(table, args.manifests, args.group_by) for table in (dev, test))
            out = args.out
        else:
            dev, test, out = _checkpoint_scores(args, named_group)
        if named_group:
            _check_group_column(args.group_by, dev.columns)
        report = evaluate_split_scores(dev, test, rule=args.rule, group_by=args.group_by)
    except ValueError as error:  # a score file that does not follow the schema: bad data, named
        log.error("%s", error)
        return 1
    write_report(report, dev, test, out)
    write_curve_plots(dev, test, float(report["threshold"]), out)
    _log_headline(report, args.rule, out)
    return 0


def _log_headline(report: dict, rule: str, out: Path) -> None:
    test = report["test"]
    log.info("threshold %s (%s on dev) → test ACER %s (APCER %s, BPCER %s); worst attack type %s: ACER %s → %s",
             report["threshold"], rule, test["acer"], test["apcer"], test["bpcer"], test["worst_pai"],
             test["acer_worst_pai"], out)
    if test["groups"] is not None:
        log.info("test BiasERR over %s: %s", test["groups"]["column"], test["groups"]["bias_err"])


if __name__ == "__main__":
    raise SystemExit(main())
