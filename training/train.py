"""Train SD-Net on one protocol split by streaming its shards, or on each fold of a protocol in turn.

    python -m training.train --dataset cefa --protocol 4_1 [--seed N] [--epochs N] [--init-weights resnet18.pth]
    python -m training.train --run oulu-3 --seed 1        # every fold of OULU-NPU Protocol 3, one after another
    torchrun --nproc-per-node 2 -m training.train --dataset cefa --protocol 4_1

Defaults come from ``params.yaml`` (section ``train``; ``train.out`` names each protocol's folder). Each epoch
streams the train split (resampled shards, seeded by seed + epoch so a resumed run sees the same stream),
scores the dev split, logs with dvclive and saves ``checkpoint.pt`` (atomically; loaded with
``weights_only=True``). CUDA with mixed precision when present; DistributedDataParallel under ``torchrun``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import torch

from pipeline import storage
from pipeline.cli import add_params_argument, add_verbosity_arguments, command, configure_logging, progress_enabled
from pipeline.errors import UsageError
from pipeline.format.splits import SplitIndex, SplitShards
from pipeline.params import load_section

from .balance import BALANCE_CHOICES, balance_plan
from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .config import TRAIN_KEYS, TrainConfig, fold_configs
from .data import CorruptSamples, loader, train_pipeline
from .distributed import DistInfo, SDNetOrDDP, setup, teardown, unwrap
from .metrics import pad_metrics, threshold_at_eer
from .model import FINAL_HEADS
from .scores import video_scores
from .scoring import model_inputs, score_windows

log = logging.getLogger(__name__)

def build_optimizer(
    config: TrainConfig, model: torch.nn.Module
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.MultiStepLR]:
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                    weight_decay=config.weight_decay)
    else:  # adam: TrainConfig admits no other
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(config.lr_milestones), gamma=0.1)
    return optimizer, scheduler


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


def run(config: TrainConfig, resume: bool = False, dist: DistInfo | None = None,
        splits: tuple[SplitShards, SplitShards] | None = None) -> dict[str, float]:
    """Train for ``config.epochs`` (continuing from ``checkpoint.pt`` with ``resume``); returns the last dev metrics.
    ``splits``: the train and dev shards when the caller has already found them (:func:`train_splits`)."""
    from dvclive import Live
    from tqdm import tqdm

    dist = dist or setup()
    torch.manual_seed(config.seed)
    share_cpu(config.num_workers, dist)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    train_shards, dev_shards = splits or train_splits(config)
    modalities, dev_modalities = list(train_shards.modalities), list(dev_shards.modalities)
    if dist.is_main:
        log.info("train.balance %s: %s", config.balance, batch_rule(config, train_shards))
    model: SDNetOrDDP = build_model(config, modalities).to(dist.device)
    optimizer, scheduler = build_optimizer(config, model)
    start = 0
    checkpoint = out / "checkpoint.pt"
    if resume:
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["epoch"] + 1
        log.info("resumed from %s at epoch %d", checkpoint, start)
    if dist.world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dist.local_rank] if dist.device.type == "cuda" else None)
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
                                  CorruptSamples(config.fail_on_corrupt), config.balance)
        metrics = train_epoch(model, optimizer, scaler, loader(pipeline, config.num_workers), modalities, dist)
        metrics["lr"] = float(scheduler.get_last_lr()[0])  # the rate this epoch trained with
        scheduler.step()
        dev = score_windows(model, dev_shards, dev_modalities, config.batch_size, config.num_workers,
                            dist.device, dist.world_size, config.fail_on_corrupt)
        metrics |= dev_metrics(video_scores(dev))
        if live is not None:
            for name, value in metrics.items():
                live.log_metric(name, value)
            live.next_step()
            save_checkpoint(checkpoint, model, optimizer, scheduler, epoch, config)
        if dist.is_main:  # one line an epoch, not one per torchrun process
            log.info("epoch %d: %s", epoch, ", ".join(f"{name} {value:.4g}" for name, value in metrics.items()))
    if live is not None:
        live.end()
    return metrics


def train_splits(config: TrainConfig) -> tuple[SplitShards, SplitShards]:
    """The train and dev shards of the run's protocol; raises when splits.json or a shard is missing."""
    index = SplitIndex.load(config.manifests)
    return index.split(config.protocol, "train", config.shards), index.split(config.protocol, "dev", config.shards)


def batch_rule(config: TrainConfig, train_shards: SplitShards) -> str:
    """What the train batches hold, in words; a split whose batches cannot be balanced is refused here."""
    plan = balance_plan(train_shards, config.balance, config.batch_size)
    if plan is None:
        domains = ", ".join(train_shards.by_domain())
        return f"one shuffled stream over the {len(train_shards.urls)} shards of {domains or 'the split'}"
    return plan.describe()


def share_cpu(num_workers: int, dist: DistInfo) -> None:
    """On CPU, leave the data workers their cores: oversubscribed OpenMP threads stall one another. A thread count
    set with ``OMP_NUM_THREADS`` is kept (the number of threads changes the order of floating-point sums, so a
    run's last digits: set it to compare runs across machines)."""
    if dist.device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(max(1, cores // dist.world_size - num_workers))


def dev_metrics(videos) -> dict[str, float]:
    """Dev EER and, at the dev EER threshold, the ACER (pooled APCER, the papers') and the ISO worst-PAI
    ACER: what to watch while training (never test)."""
    threshold, eer = threshold_at_eer(videos["score"], videos["is_bonafide"])
    report = pad_metrics(videos["score"], videos["is_bonafide"], videos["attack_type"], threshold)
    return {"dev/eer": eer, "dev/acer": report["acer"], "dev/acer_worst_pai": report["acer_worst_pai"]}


@command("python -m training.train")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="<dataset>[-<protocol>] instead of --dataset and --protocol: oulu-3 trains every "
                                      "fold of OULU-NPU's row 3 (3_1 ... 3_6), oulu every row of its table")
    parser.add_argument("--dataset", help="the dataset of the manifests (fills {dataset} in the paths)")
    parser.add_argument("--protocol", help="protocol name or alias (4_1, 4@1, p4.1), or a row with folds (3: every "
                                           "fold of it, one after the other)")
    parser.add_argument("--seed", type=int, help="random seed of the weights and the sample stream (default: 0; "
                                                 "dvc repro trains each of params.yaml's runs.seeds)")
    parser.add_argument("--manifests", help="manifest folder or URL (s3://bucket/prefix) with splits.json (default: "
                                            "train.manifests)")
    parser.add_argument("--shards", help="shard folder or URL, streamed from (default: train.shards)")
    parser.add_argument("--out", help="local checkpoint and log folder (default: train.out; {protocol} and the other "
                                      "placeholders are filled in per protocol)")
    parser.add_argument("--epochs", type=int, help="epochs to train (default: train.epochs)")
    parser.add_argument("--batch-size", type=int, dest="batch_size", help="samples a batch, per process "
                                                                         "(default: train.batch_size)")
    parser.add_argument("--lr", type=float, help="initial learning rate (default: train.lr)")
    parser.add_argument("--width", type=int, help="ResNet-18 base width (64 = the paper's network)")
    parser.add_argument("--final-head", choices=FINAL_HEADS, dest="final_head",
                        help="the head the score comes from: whole (the paper's, on every branch) or shared (ablation)")
    parser.add_argument("--balance", choices=BALANCE_CHOICES, help="train batches across datasets and classes: auto "
                        "(balanced when the train split holds several datasets), domains_and_classes, none "
                        "(default: train.balance)")
    parser.add_argument("--num-workers", type=int, dest="num_workers", help="DataLoader processes decoding the "
                                                                           "shards (default: train.num_workers)")
    parser.add_argument("--init-weights", dest="init_weights", help="local torchvision resnet18 ImageNet state dict")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt (which must exist)")
    add_params_argument(parser, "defaults (and the storage section)")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    params = load_section("train", args.params, known=TRAIN_KEYS)
    storage.configure(load_section("storage", args.params))
    resume, device = args.resume, args.device
    del args.resume, args.device, args.params, args.quiet, args.verbose
    configs = fold_configs(args, params)  # settings, protocols and splits.json checked before any work
    splits = [train_splits(config) for config in configs]  # every shard there, before any process starts
    for config, (train_shards, _) in zip(configs, splits):
        balance_plan(train_shards, config.balance, config.batch_size)  # a batch too small to balance: said here
    if resume and len(configs) > 1:
        raise UsageError(f"--resume continues one protocol's run, this run has {len(configs)}: pass one protocol")
    checkpoint = Path(configs[0].out) / "checkpoint.pt"
    if resume and not checkpoint.is_file():
        raise UsageError(f"--resume: no checkpoint at {checkpoint} to continue from (drop --resume to start afresh)")
    dist = setup(device)
    try:
        for number, (config, fold_splits) in enumerate(zip(configs, splits), 1):
            if dist.is_main:
                log.info("training %s %s, seed %d (%d of %d) → %s", config.dataset, config.protocol, config.seed,
                         number, len(configs), config.out)
            run(config, resume=resume, dist=dist, splits=fold_splits)
    finally:
        teardown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
