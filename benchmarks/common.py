"""What the benchmarks share: demo data under ``data/bench``, shard settings, timing, one report format.

Every ratio a benchmark prints is measured in the same run, on this machine: absolute times on a
shared machine mean little, ratios of things timed side by side mean more. The demo data (raw
trees and manifests) is made once and reused while its generator stamp matches; shards are reused
by the shard stage itself when their digests match, except where a benchmark times the shard stage.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py`: the repository's packages first
    sys.path.insert(0, str(REPO))

from pipeline.params import load_section  # noqa: E402
from pipeline.shard import StageConfig, config_from_args  # noqa: E402

BENCH = REPO / "data" / "bench"
DATASETS = ("cefa", "oulu")
DEMO_SIZE = "small"
DEMO_SEED = 0


def demo_data(dataset: str, size: str = DEMO_SIZE) -> tuple[Path, Path]:
    """(raw root, manifest folder) of the ``size`` demo of ``dataset`` (``small`` unless asked), made on first use."""
    name = dataset if size == DEMO_SIZE else f"{dataset}-{size}"
    raw, manifests = BENCH / "raw" / name, BENCH / "manifests" / name
    stamp = raw / f"demo-{dataset}.json"
    fresh = stamp.is_file() and json.loads(stamp.read_text()).get("size") == size
    if not fresh:
        _module("pipeline.demo", "--dataset", dataset, "--out", str(raw), "--size", size, "--seed", str(DEMO_SEED))
    if not fresh or not (manifests / "protocols.parquet").is_file():
        _module("pipeline.index", "--dataset", dataset, "--root", str(raw), "--out", str(manifests))
    return raw, manifests


def _module(name: str, *args: str) -> None:
    print(f"  (preparing: python -m {name} {' '.join(args)})", flush=True)
    done = subprocess.run([sys.executable, "-m", name, *args], cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"python -m {name} failed:\n{done.stderr[-3000:]}")


def stage_config(dataset: str, out: Path, workers: int = 0, size: str = DEMO_SIZE, **sample: object) -> StageConfig:
    """The shard stage as ``params.yaml`` sets it up, on the bench demo data of ``size``; ``sample`` overrides."""
    params = load_section("shard", REPO / "params.yaml")
    raw, manifests = demo_data(dataset, size)
    config = config_from_args(argparse.Namespace(dataset=dataset), params, raw)
    return replace(config, manifests=manifests, out=out, workers=workers, sample=replace(config.sample, **sample))


def bench_manifests(config: StageConfig, name: str) -> StageConfig:
    """A private copy of the index manifests, so a benchmark's shard run leaves the shared ones alone."""
    folder = BENCH / "manifests-runs" / name
    folder.mkdir(parents=True, exist_ok=True)
    for file in ("videos.parquet", "protocols.parquet"):
        (folder / file).write_bytes((config.manifests / file).read_bytes())
    return replace(config, manifests=folder)


def timed(function: Callable[[], object]) -> tuple[float, object]:
    """(wall seconds, result) of one call."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def best_of(function: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` calls: the least disturbed by the other jobs of a shared machine."""
    return min(timed(function)[0] for _ in range(repeat))


def header(title: str) -> None:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"\n== {title} ==  ({platform.machine()}, {cores} cores, Python {platform.python_version()})", flush=True)


def verdict(name: str, ratio: float, target: float, higher_is_better: bool, figures: str) -> str:
    """Print one result line as ``name: ratio (target, met or NOT met) — figures``; return the verdict."""
    met = ratio >= target if higher_is_better else ratio <= target
    sign = ">=" if higher_is_better else "<="
    state = "met" if met else "NOT met"
    print(f"RESULT {name}: {ratio:.2f}x  (target {sign} {target}x: {state})  {figures}", flush=True)
    return state


def table(rows: list[list[str]], head: list[str]) -> None:
    """A plain text table, columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  " + "  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)))


def bench_shards(dataset: str, image_format: str, workers: int = 2) -> StageConfig:
    """Shards of the whole demo dataset in ``image_format`` under data/bench (reused when complete)."""
    from pipeline.shard import run

    config = stage_config(dataset, BENCH / "shards" / f"{dataset}-{image_format}", workers=workers,
                          image_format=image_format)
    config = bench_manifests(config, f"{dataset}-{image_format}")
    summary = run(config)
    if summary.failed_shards:
        raise RuntimeError(f"shard run failed: {summary.failed_shards}")
    return config


def all_shards(config: StageConfig):
    """Every shard of a shard run as one ``SplitShards`` (the loaders only need URLs and a count)."""
    import pandas as pd

    from pipeline.format.splits import SplitShards

    shards = pd.read_parquet(config.manifests / "shards.parquet")
    urls = [str(config.out / f"{name}.tar") for name in shards["shard"]]
    return SplitShards("all", "train", urls, int(shards["n_samples"].sum()))


def training_step(modalities: list[str], width: int, device: str) -> Callable[[dict], None]:
    """One SD-Net training step (forward, losses, backward, Adam) on ``device``; mixed precision on CUDA,
    as ``training.train`` does it."""
    import torch

    from training.model import SDNet
    from training.scoring import model_inputs

    torch.manual_seed(0)
    target = torch.device(device)
    model = SDNet(modalities=tuple(modalities), width=width).to(target)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    cuda = target.type == "cuda"
    scaler = torch.amp.GradScaler(enabled=cuda)

    def step(batch: dict) -> None:
        with torch.autocast(target.type, enabled=cuda):
            loss, _ = model.loss(model(model_inputs(batch, modalities, target)), batch["label"].to(target))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step
