"""SD-Net training throughput on one GPU: streaming real shards against the same batches resident on it.

Both runs do the same mixed-precision training steps (fp16 autocast and a gradient scaler, as
``training.train`` does on CUDA). *Streaming* takes every batch from the shard loader
(``training.data.train_pipeline`` + ``loader``, decoded and augmented by DataLoader workers into
uint8 tensors) and copies it to the GPU; *resident* cycles over the same uint8 batches copied to the
GPU beforehand, so it measures the GPU alone. Both normalise on the GPU, in ``model_inputs`` (called
by ``common.training_step``), as training does. streaming / resident near 1 means the loader keeps
the GPU fed; well below 1 means the GPU waits for data, and more loader workers (or cheaper
decoding) would pay.

    python benchmarks/gpu_train.py                                # CUDA, CeFA (3 modalities), width 64
    python benchmarks/gpu_train.py --device cpu --steps 2 --width 16 --batch-size 4   # smoke test here
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch

from common import DATASETS, all_shards, bench_shards, header, training_step
from training.augment import AugmentConfig
from training.data import loader, train_pipeline

MODALITIES = {"cefa": ["rgb", "depth", "ir"], "oulu": ["rgb"]}


def samples_per_second(step: Callable[[dict], None], batches: Iterable[dict[str, Any]], steps: int, warmup: int,
                       device: torch.device) -> float:
    """Training samples per second over ``steps`` steps, after ``warmup`` steps (cuDNN autotuning, workers)."""
    iterator = iter(batches)
    for _ in range(warmup):
        step(next(iterator))
    _synchronise(device)
    started, count = time.perf_counter(), 0
    for _ in range(steps):
        batch = next(iterator)
        step(batch)
        count += len(batch["label"])
    _synchronise(device)
    return count / (time.perf_counter() - started)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def resident(batches: list[dict[str, Any]], device: torch.device) -> Iterable[dict[str, Any]]:
    """The same batches, copied to the device once, served round-robin forever."""
    on_device = [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()} for b in batches]
    while True:
        yield from on_device


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke test of the script)")
    parser.add_argument("--dataset", default="cefa", choices=DATASETS)
    parser.add_argument("--width", type=int, default=64, help="SD-Net width (64: the paper's ResNet-18)")
    parser.add_argument("--batch-size", type=int, default=64, help="the paper's batch size")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps before each run")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="DataLoader workers")
    parser.add_argument("--image-format", default="npy", choices=("npy", "png", "jpg"))
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device: run with --device cpu for a smoke test")
        torch.backends.cudnn.benchmark = True
    header(f"SD-Net training throughput on {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}")
    modalities = MODALITIES[args.dataset]
    shards = all_shards(bench_shards(args.dataset, args.image_format))
    step = training_step(modalities, args.width, args.device)
    total = args.steps + args.warmup
    pipeline = train_pipeline(shards, modalities, args.batch_size, epoch_samples=total * args.batch_size,
                              augment=AugmentConfig(), num_workers=args.workers)
    batches = loader(pipeline, args.workers)
    streaming = samples_per_second(step, batches, args.steps, args.warmup, device)
    kept = [batch for _, batch in zip(range(8), iter(loader(pipeline, 0)))]
    on_gpu = samples_per_second(step, resident(kept, device), args.steps, args.warmup, device)
    print(f"{args.dataset} ({len(modalities)} modalities), width {args.width}, batch {args.batch_size}, "
          f"{'fp16 autocast' if device.type == 'cuda' else 'fp32'}, {args.workers} loader workers, "
          f"{args.image_format} shards, {args.steps} timed steps after {args.warmup}:")
    # a CPU smoke test shows the script runs end to end; its figures say nothing about a GPU, so it prints no RESULT
    # line (benchmarks/publish.py publishes RESULT lines)
    label = "RESULT" if device.type == "cuda" else "(CPU smoke test, not a result)"
    print(f"{label} streaming/resident {args.dataset}: {streaming / on_gpu:.2f}x  "
          f"(1.0 = the loader keeps the device fed)  streaming {streaming:.0f} samples/s, "
          f"resident {on_gpu:.0f} samples/s")


if __name__ == "__main__":
    main()
