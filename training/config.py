"""The settings of one training run: ``params.yaml``'s ``train`` section, the command line over it."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import UsageError
from pipeline.format.splits import SplitIndex
from pipeline.params import check_types
from pipeline.storage import is_url

from .augment import AugmentConfig
from .balance import BALANCE_CHOICES
from .model import FINAL_HEADS
from .resnet import IMAGENET_WIDTH
from .tables import RunName, load_tables

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class TrainConfig:
    dataset: str
    protocol: str
    manifests: str
    shards: str
    out: str
    width: int = 16
    static: bool = True
    dynamic: bool = True
    shared: bool = True
    forward_feeding: bool = True
    backward_feeding: bool = True
    final_head: str = "whole"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_milestones: tuple[int, ...] = (15, 20)
    epochs: int = 25
    batch_size: int = 64
    epoch_samples: int | None = None
    shuffle_buffer: int = 500
    #: Batches across domains and classes (training.balance): auto | domains_and_classes | none.
    balance: str = "auto"
    num_workers: int = 2
    seed: int = 0
    input_size: int = 112
    max_rotation: float = 30.0
    colour: float = 0.2
    init_weights: str | None = None
    fail_on_corrupt: bool = False
    #: The run this protocol was trained for (``oulu-3`` for fold 3_1 of ``--run oulu-3``): the ``{run}`` of the paths.
    run: str = ""

    def __post_init__(self) -> None:
        # a mistyped choice or an impossible number in params.yaml fails here, before any shard is read
        check_types("train", self)
        if self.final_head not in FINAL_HEADS:
            raise UsageError(f"train.final_head: {self.final_head!r} is not one of {', '.join(FINAL_HEADS)}")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"train.optimizer: {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.balance not in BALANCE_CHOICES:
            raise UsageError(f"train.balance: {self.balance!r} is not one of {', '.join(BALANCE_CHOICES)}")
        positive = {"width": self.width, "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                    "shuffle_buffer": self.shuffle_buffer, "input_size": self.input_size}
        for name, value in positive.items():
            if not value > 0:
                raise UsageError(f"train.{name} = {value!r}: expected a positive number")
        not_negative = {"momentum": self.momentum, "weight_decay": self.weight_decay, "max_rotation": self.max_rotation,
                        "colour": self.colour}
        for name, value in not_negative.items():
            if value < 0:
                raise UsageError(f"train.{name} = {value!r}: expected 0 or more")
        if self.num_workers < 0:
            raise UsageError(f"train.num_workers = {self.num_workers}: expected 0 (decode in this process) or more")
        if self.epoch_samples is not None and self.epoch_samples < 1:
            raise UsageError(f"train.epoch_samples = {self.epoch_samples}: expected a positive number, or null")
        if is_url(self.out):
            raise UsageError(f"train.out = {self.out}: checkpoints and logs are written to a local folder (only "
                             "shards and manifests are read from a store)")
        if self.init_weights is not None and not Path(self.init_weights).is_file():
            raise UsageError(f"--init-weights {self.init_weights}: no such file (a torchvision resnet18 state dict)")
        if self.init_weights is not None and self.width != IMAGENET_WIDTH:
            raise UsageError(f"--init-weights: ImageNet ResNet-18 weights need width {IMAGENET_WIDTH}, this run has "
                             f"train.width = {self.width}: pass --width {IMAGENET_WIDTH}")

    @property
    def augment(self) -> AugmentConfig:
        return AugmentConfig(self.input_size, self.max_rotation, True, self.colour)


#: The keys of params.yaml's train section. The seed is not one: a run's seeds are params.yaml's runs.seeds (dvc
#: repro) or --seed, so that one setting decides them.
TRAIN_KEYS = {f.name for f in fields(TrainConfig)} - {"dataset", "protocol", "seed", "run"}


def run_name(args: argparse.Namespace) -> RunName:
    """The run a command was asked for: ``--run oulu-3``, or ``--dataset oulu --protocol 3``."""
    if getattr(args, "run", None):
        if args.dataset or args.protocol:
            raise UsageError("--run names the dataset and protocol: give it alone, or --dataset and --protocol")
        return RunName.parse(args.run)
    if not (args.dataset and args.protocol):
        raise UsageError("give --dataset and --protocol (or --run <dataset>[-<protocol>], e.g. --run oulu-3)")
    return RunName(args.dataset, args.protocol)


def run_protocols(run: RunName, index: SplitIndex) -> tuple[RunName, list[str]]:
    """The run under its canonical name, and the protocols it stands for: every fold of a row of the dataset's
    table (``training/tables.yaml``: ``oulu-3`` is 3_1 … 3_6; ``oulu`` every row), else the one protocol the name
    or alias is in ``splits.json`` (``4@1`` is ``4_1``)."""
    tables = load_tables()
    table = tables.datasets.get(run.dataset)
    rows = {row.protocol for row in table.rows if row.has_folds} if table else set()
    if run.protocol is None or run.protocol in rows:
        return run, (table or tables.dataset(run.dataset)).folds_of(run.protocol)
    protocol = index.resolve(run.protocol)
    return RunName(run.dataset, protocol), [protocol]


def config_from_args(args: argparse.Namespace, params: dict[str, Any], run: RunName | None = None,
                     index: SplitIndex | None = None) -> TrainConfig:
    """The command line over ``params`` (the ``train`` section); the protocol is resolved through the
    manifests' ``splits.json`` (``4@1`` and ``p4.1`` train ``4_1``; ``index``: that file, where the caller has
    read it already), and the path templates filled in (``{run}``: the run's name, ``oulu-3`` for fold 3_1 of
    ``--run oulu-3``; default ``<dataset>-<protocol>``)."""
    config = settings(args, params)
    manifests = fill("train.manifests", config.manifests, {"dataset": args.dataset})
    index = index if index is not None else SplitIndex.load(manifests)
    protocol = index.resolve(args.protocol)
    if index.crop_size is not None and config.input_size > index.crop_size:
        raise UsageError(f"train.input_size = {config.input_size} is larger than the shards' {index.crop_size}-pixel "
                         f"crops ({index.path}): set input_size {index.crop_size} or less, or shard again with a "
                         "larger shard.crop_size")
    names = {"dataset": args.dataset, "protocol": protocol, "seed": config.seed,
             "run": str(run or RunName(args.dataset, protocol))}
    # {dataset} stays in the shard folder: splits.json fills it in for each dataset a split reads from
    shards = fill("train.shards", config.shards, names | {"dataset": "{dataset}"})
    return replace(config, protocol=protocol, run=names["run"], manifests=manifests, shards=shards,
                   out=fill("train.out", config.out, names))


def settings(args: argparse.Namespace, params: dict[str, Any]) -> TrainConfig:
    """The command line over ``params``, checked (TrainConfig's own checks) before any file is read; the paths still
    templates."""
    values = {**params, **{k: v for k, v in vars(args).items() if v is not None}}
    if isinstance(values.get("lr_milestones"), list):  # YAML's list; anything else is refused by TrainConfig
        values["lr_milestones"] = tuple(values["lr_milestones"])
    for name in ("manifests", "shards", "out"):
        if values.get(name) is None:
            raise UsageError(f"no --{name} given and no params.yaml with a train.{name} setting: pass --{name} DIR")
    return TrainConfig(**{f.name: values[f.name] for f in fields(TrainConfig) if f.name in values})


def fill(setting: str, template: str, names: dict[str, Any]) -> str:
    """A path template with its ``{placeholders}`` filled in; an unknown one is refused in one line."""
    try:
        return template.format(**names)
    except (KeyError, IndexError, ValueError) as error:
        raise UsageError(f"{setting} = {template!r}: cannot fill in {error}; its placeholders are "
                         f"{', '.join('{' + name + '}' for name in names)}") from None


def fold_configs(args: argparse.Namespace, params: dict[str, Any]) -> list[TrainConfig]:
    """The settings of every protocol a command's run stands for (:func:`run_protocols`), each checked, in order."""
    run = run_name(args)
    named = {"dataset": run.dataset, "protocol": run.protocol or ""}
    template = settings(argparse.Namespace(**(vars(args) | named)), params).manifests
    index = SplitIndex.load(fill("train.manifests", template, {"dataset": run.dataset}))
    run, protocols = run_protocols(run, index)
    values = vars(args) | {"run": None, "dataset": run.dataset}
    return [config_from_args(argparse.Namespace(**(values | {"protocol": protocol})), params, run, index)
            for protocol in protocols]
