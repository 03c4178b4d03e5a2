"""Train SD-Net on one protocol split by streaming its shards.

    python -m training.train --dataset cefa --protocol 4_1 [--epochs N] [--init-weights resnet18.pth] [--resume]
    torchrun --nproc-per-node 2 -m training.train --dataset cefa --protocol 4_1

Defaults come from ``params.yaml`` (section ``train``). Each epoch streams the train split (resampled
shards, seeded by seed + epoch so a resumed run sees the same stream), scores the dev split, logs
with dvclive and saves ``checkpoint.pt`` (atomically; loaded with ``weights_only=True``).
CUDA with mixed precision when present; DistributedDataParallel under ``torchrun``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from pipeline.cli import add_verbosity_arguments, configure_logging, progress_enabled
from pipeline.io import replace_atomically
from pipeline.params import load_section
from pipeline.protocols import load_spec

from .augment import AugmentConfig
from .data import CorruptSamples, loader, split_shards, train_pipeline
from .distributed import DistInfo, setup, teardown, unwrap
from .metrics import pad_metrics, threshold_at_eer
from .model import FINAL_HEADS, SDNet
from .scores import video_scores
from .scoring import model_inputs, score_windows

log = logging.getLogger(__name__)

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
    num_workers: int = 2
    seed: int = 0
    input_size: int = 112
    max_rotation: float = 30.0
    colour: float = 0.2
    init_weights: str | None = None
    fail_on_corrupt: bool = False

    def __post_init__(self) -> None:
        # a mistyped choice in params.yaml fails here, before any shard is read
        if self.final_head not in FINAL_HEADS:
            raise ValueError(f"train.final_head: {self.final_head!r} is not one of {', '.join(FINAL_HEADS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer: {self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")

    @property
    def augment(self) -> AugmentConfig:
        return AugmentConfig(self.input_size, self.max_rotation, True, self.colour)


def split_modalities(config: TrainConfig, split: str) -> list[str]:
    spec = load_spec(config.dataset)
    return list(spec.protocols[spec.resolve(config.protocol)].splits[split].modalities)


def build_model(config: TrainConfig, modalities: list[str]) -> SDNet:
    model = SDNet(modalities=tuple(modalities), width=config.width, static=config.static, dynamic=config.dynamic,
                  shared=config.shared, forward_feeding=config.forward_feeding, backward_feeding=config.backward_feeding,
                  final_head=config.final_head)
    if config.init_weights:
        model.load_imagenet(config.init_weights)
    return model


def build_optimizer(config: TrainConfig, model: torch.nn.Module):
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    else:  # adam: TrainConfig admits no other
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.lr_milestones), gamma=0.1)
    return optimizer, scheduler


def save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int, config: TrainConfig) -> None:
    state = {"model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": epoch, "config": asdict(config)}
    replace_atomically(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Tensors and plain containers only: ``weights_only=True`` never runs pickled code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def train_epoch(model, optimizer, scaler, batches, modalities: list[str], dist: DistInfo) -> dict[str, float]:
    core = unwrap(model)
    model.train()
    correct, count, loss_sum, skipped = 0, 0, 0.0, 0
    for batch in batches:
        skipped += batch["skipped"]
        target = batch["label"].to(dist.device)
        with torch.autocast(dist.device.type, enabled=dist.device.type == "cuda"):
            logits = model(model_inputs(batch, modalities, dist.device))
            loss, _ = core.loss(logits, target)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += loss.detach().item() * len(target)
        correct += int(((core.score(logits).detach() >= 0.5).float() == target).sum())
        count += len(target)
    if dist.world_size > 1:  # the counter is the run's, not rank 0's
        total = torch.tensor([skipped], device=dist.device)
        torch.distributed.all_reduce(total)
        skipped = int(total.item())
    if skipped:
        log.warning("%d corrupt samples skipped this epoch (train.fail_on_corrupt: true stops instead)", skipped)
    return {"train/loss": loss_sum / max(count, 1), "train/accuracy": correct / max(count, 1), "train/skipped": skipped}


def run(config: TrainConfig, resume: bool = False, dist: DistInfo | None = None) -> dict[str, float]:
    """Train for ``config.epochs`` (continuing from ``checkpoint.pt`` with ``resume``); returns the last dev metrics."""
    from dvclive import Live
    from tqdm import tqdm

    dist = dist or setup()
    torch.manual_seed(config.seed)
    share_cpu(config.num_workers, dist)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    modalities, dev_modalities = split_modalities(config, "train"), split_modalities(config, "dev")
    protocol = split_protocol(config)
    train_shards = split_shards(Path(config.manifests), protocol, "train", Path(config.shards))
    dev_shards = split_shards(Path(config.manifests), protocol, "dev", Path(config.shards))
    model = build_model(config, modalities).to(dist.device)
    optimizer, scheduler = build_optimizer(config, model)
    start = 0
    checkpoint = out / "checkpoint.pt"
    if resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["epoch"] + 1
        log.info("resumed from %s at epoch %d", checkpoint, start)
    if dist.world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dist.local_rank] if dist.device.type == "cuda" else None)
    scaler = torch.amp.GradScaler(enabled=dist.device.type == "cuda")
    metrics: dict[str, float] = {}
    live = (
        Live(str(out / "dvclive"), resume=resume and start > 0, report=None, save_dvc_exp=False, dvcyaml=None)
        if dist.is_main else None
    )
    if live is not None:
        live.step = start  # dvclive's own resume cannot tell "one step logged" from "none"
    for epoch in tqdm(range(start, config.epochs), desc="epochs", disable=not (dist.is_main and progress_enabled()),
                      file=sys.stderr):
        pipeline = train_pipeline(train_shards, modalities, config.batch_size, config.epoch_samples, config.augment,
                                  config.shuffle_buffer, config.seed + epoch, dist.world_size, config.num_workers,
                                  CorruptSamples(config.fail_on_corrupt))
        metrics = train_epoch(model, optimizer, scaler, loader(pipeline, config.num_workers), modalities, dist)
        metrics["lr"] = scheduler.get_last_lr()[0]  # the rate this epoch trained with
        scheduler.step()
        dev = score_windows(model, dev_shards, dev_modalities, config.batch_size, config.num_workers,
                            dist.device, dist.world_size, config.fail_on_corrupt)
        metrics |= dev_metrics(video_scores(dev))
        if live is not None:
            for name, value in metrics.items():
                live.log_metric(name, value)
            live.next_step()
            save_checkpoint(checkpoint, model, optimizer, scheduler, epoch, config)
        log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in metrics.items()})
    if live is not None:
        live.end()
    return metrics


def share_cpu(num_workers: int, dist: DistInfo) -> None:
    """On CPU, leave the data workers their cores: oversubscribed OpenMP threads stall one another."""
    if dist.device.type == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores // dist.world_size - num_workers))


def dev_metrics(videos) -> dict[str, float]:
    """Dev EER and, at the dev EER threshold, the ACER (pooled APCER, the papers') and the ISO worst-PAI
    ACER: what to watch while training (never test)."""
    threshold, eer = threshold_at_eer(videos["score"], videos["is_bonafide"])
    report = pad_metrics(videos["score"], videos["is_bonafide"], videos["attack_type"], threshold)
    return {"dev/eer": eer, "dev/acer": report["acer"], "dev/acer_worst_pai": report["acer_worst_pai"]}


def split_protocol(config: TrainConfig) -> str:
    return load_spec(config.dataset).resolve(config.protocol)


def config_from_args(args: argparse.Namespace, params: dict[str, Any]) -> TrainConfig:
    values = {**params, **{k: v for k, v in vars(args).items() if v is not None}}
    values["protocol"] = load_spec(args.dataset).resolve(args.protocol)  # 4@1 and p4.1 train 4_1
    for key in ("manifests", "shards", "out"):
        values[key] = str(values[key]).format(dataset=args.dataset, protocol=values["protocol"])
    values["lr_milestones"] = tuple(values.get("lr_milestones", ()))
    return TrainConfig(**{f.name: values[f.name] for f in fields(TrainConfig) if f.name in values})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--protocol", required=True, help="protocol name or alias (4_1, 4@1, p4.1)")
    parser.add_argument("--manifests", help="manifest folder with splits.json (default: train.manifests)")
    parser.add_argument("--shards", help="shard folder (default: train.shards)")
    parser.add_argument("--out", help="checkpoint and log folder (default: train.out)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int, dest="batch_size")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--width", type=int, help="ResNet-18 base width (64 = the paper's network)")
    parser.add_argument("--final-head", choices=FINAL_HEADS, dest="final_head",
                        help="the head the score comes from: whole (the paper's, on every branch) or shared (ablation)")
    parser.add_argument("--num-workers", type=int, dest="num_workers")
    parser.add_argument("--init-weights", dest="init_weights", help="local torchvision resnet18 ImageNet state dict")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.add_argument("--params", type=Path, help="params.yaml to read defaults from")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    params = load_section("train", args.params)
    resume, device = args.resume, args.device
    try:
        config = config_from_args(args, params)
    except ValueError as error:  # a protocol that does not exist, a choice mistyped in params.yaml
        parser.error(str(error))
    dist = setup(device)
    try:
        run(config, resume=resume, dist=dist)
    finally:
        teardown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
