"""Multi-source training input: the loader balancing three datasets against a single-dataset loader.

* **mixed**: ``training.data.train_pipeline`` on the sources of O&C&I→M (OULU-NPU's every train video,
  CASIA-FASD's and Replay-Attack's grandtest train videos), batches balanced across the 3 datasets x 2 classes
  (``train.balance: auto``, :mod:`training.balance`);
* **single**: the same loader on OULU-NPU's train shards alone, one shuffled stream (what training on one dataset
  does);
* for reference, **union**: the three datasets as one shuffled stream (``train.balance: none``), so the cost of
  balancing itself shows.

Comparable data: the ``small`` demos of the three datasets sharded with the project's settings (128 px RGB crops,
npy), the same batch and augmentation (bench_loader's). The demos hold bona fide and attack samples as the
releases do (1:4, 1:3, 1:5), so a balanced batch's bona fide samples cost reading past the attacks between them
(dropped by their JSON member, their images unread and never decoded): the ratio says what that costs.

The ratio is of samples per CPU second, each loader in this process (no workers) once its shuffle buffers are
full, the least CPU time of a few runs: it measures the loader's own work, which is the same in every DataLoader
worker. Wall-clock samples/s with bench_loader's 2 workers are printed too (alternating between the loaders, the
best of each kept), but on a shared machine the other jobs move a run's rate by up to 2.5x, far more than what is
measured here.

    python benchmarks/bench_mixed.py       (or: make bench)
"""
from __future__ import annotations

import time

from bench_loader import BATCH, WORKERS, loader_rate
from common import bench_shards, header, verdict
from pipeline.format.splits import SplitIndex, SplitShards
from training.balance import class_counts
from training.data import loader, train_pipeline

TARGET = 0.9  # issue target: the mixed loader keeps at least 0.9x a single-dataset loader's samples/s
#: The sources of O&C&I→M, each with the protocol split it trains on (OULU-NPU: every train video).
SOURCES = {"oulu": "all", "casia_fasd": "grandtest", "replay_attack": "grandtest"}
SINGLE = "oulu"
BATCHES = 96
ROUNDS = 4
#: In-process CPU time: batches skipped first (until every shuffle buffer is full), then batches timed.
CPU_WARMUP, CPU_BATCHES = 40, 100


def train_split(dataset: str, protocol: str) -> SplitShards:
    config = bench_shards(dataset, "npy")
    return SplitIndex.load(config.manifests).split(protocol, "train", config.out)


def union(splits: list[SplitShards]) -> SplitShards:
    """One train split of several datasets, as a cross-dataset protocol's splits.json gives it: each shard with its
    domain and class counts."""
    joined = {field: tuple(value for s in splits for value in getattr(s, field))
              for field in ("domains", "shard_samples", "shard_bonafide")}
    return SplitShards("sources", "train", [url for s in splits for url in s.urls], sum(s.n_samples for s in splits),
                       ("rgb",), **joined)


def reads_per_use(split: SplitShards) -> float:
    """Samples a balanced stream reads for each it uses from a dataset: each class is read from the shards that
    hold it, and both classes are used alike."""
    counts = class_counts(split)
    assert counts is not None, "splits.json without class counts: shard the bench data again"
    ratios = [sum(sum(c.values()) for c in counts.values() if c[label]) / sum(c[label] for c in counts.values())
              for label in (True, False)]
    return sum(ratios) / 2


def cpu_per_sample(shards: SplitShards, balance: str) -> float:
    """CPU seconds per sample of the loader in this process (no workers), its buffers full."""
    batches = iter(loader(train_pipeline(shards, ["rgb"], BATCH, epoch_samples=(CPU_WARMUP + CPU_BATCHES) * BATCH,
                                         balance=balance), 0))
    for _ in range(CPU_WARMUP):
        next(batches)
    started = time.process_time()
    count = sum(len(batch["label"]) for batch in batches)
    return (time.process_time() - started) / count


def main() -> None:
    header("training input: balanced multi-dataset loader vs single-dataset loader")
    splits = {dataset: train_split(dataset, protocol) for dataset, protocol in SOURCES.items()}
    sources = union(list(splits.values()))
    loaders = {"single": (splits[SINGLE], "auto"), "mixed": (sources, "auto"), "union": (sources, "none")}
    rates: dict[str, list[float]] = {name: [] for name in loaders}
    cpu: dict[str, list[float]] = {name: [] for name in loaders}
    for _ in range(ROUNDS):
        for name, (shards, balance) in loaders.items():
            rates[name].append(loader_rate(shards, ["rgb"], BATCHES, balance))
            cpu[name].append(cpu_per_sample(shards, balance))
    best = {name: max(values) for name, values in rates.items()}
    rate = {name: 1 / min(values) for name, values in cpu.items()}  # samples per CPU second
    reads = {dataset: reads_per_use(split) for dataset, split in splits.items()}
    counts = ", ".join(f"{dataset} {split.n_samples}" for dataset, split in splits.items())
    print(f"  sources: {counts} samples; the balanced stream reads {sum(reads.values()) / len(reads):.1f} samples "
          f"for each it uses ({', '.join(f'{dataset} {ratio:.1f}' for dataset, ratio in reads.items())})")
    print(f"  wall clock, {WORKERS} workers, best of {ROUNDS} runs of {BATCHES} batches: mixed/single "
          f"{best['mixed'] / best['single']:.2f}x (" + "; ".join(
              f"{name}: {', '.join(f'{value:.0f}' for value in values)}" for name, values in rates.items()) +
          " samples/s: the spread is the other jobs of this machine)")
    print(f"  balancing itself: {rate['mixed'] / rate['union']:.2f}x the three datasets as one shuffled stream "
          f"({rate['union']:.0f} samples per CPU second)")
    verdict("mixed loader (3 datasets, balanced)/single-dataset loader, samples per CPU second",
            rate["mixed"] / rate["single"], TARGET, True,
            f"{rate['mixed']:.0f} vs {rate['single']:.0f} ({SINGLE} alone; 128 px RGB npy shards, batch {BATCH}, "
            f"least CPU time of {ROUNDS} runs of {CPU_BATCHES} batches)")


if __name__ == "__main__":
    main()
