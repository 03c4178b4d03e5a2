"""Shard stage against its limit: decoding every frame it reads, once, and nothing else.

For the ``small`` CeFA and OULU-NPU demo data, in this process (``--workers 0``, one core):

* the shard stage (``pipeline.shard.run``: plan, decode, faces, crop, pool, encode, tar, manifests);
* the limit: the bare decoder calls for exactly the frames the stage reads (``cv2.imread`` per frame
  file, one read per video through the stage's video decoder), without conversion, stacking or anything else;
* the stage once more with timing wrappers around its steps, for the per-stage split (the wrappers
  cost a few microseconds per call; the ratio comes from the unwrapped run).

    python benchmarks/bench_shard.py        (or: make bench)
"""
from __future__ import annotations

import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from common import DATASETS, bench_manifests, best_of, header, stage_config, table, verdict
from pipeline import face_sources, faces, samples
from pipeline.datasets.probe import numbered_frames
from pipeline.datasets.records import MODALITIES
from pipeline.format.tars import TarWriter
from pipeline.frames import open_source
from pipeline.plan import plan_shards
from pipeline.shard import StageConfig, run

TARGET = 2.5  # issue target: shard stage within 2.5x of decoding its input once
REPEAT = 2


def needed_frames(config: StageConfig) -> list[tuple[Path, bool, list[int]]]:
    """(source, grey, frame numbers) for every recording and modality the stage decodes."""
    videos = pd.read_parquet(config.manifests / "videos.parquet")
    protocols = pd.read_parquet(config.manifests / "protocols.parquet")
    plan = plan_shards(videos, protocols, config.window_length, config.windows_per_recording, config.samples_per_shard,
                       config.placement)
    reads = []
    for shard in plan.shards:
        for task in shard.recordings:
            numbers = sorted({n for window in task.windows for n in window.frames})
            for modality in MODALITIES:
                path = task.video.get(f"path_{modality}")
                if isinstance(path, str):
                    reads.append((config.root / path, modality != "rgb", numbers))
    return reads


def decode_only(reads: list[tuple[Path, bool, list[int]]], decoder: str) -> int:
    """The limit: bare decoder calls for every frame the stage reads; returns the frame count."""
    import cv2

    count = 0
    for path, grey, numbers in reads:
        if path.is_dir():
            files = numbered_frames(path)
            flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
            for number in numbers:
                cv2.imread(str(files[number]), flag)
        else:
            open_source(path, decoder=decoder).read(numbers)
        count += len(numbers)
    return count


def shard_once(config: StageConfig) -> None:
    """One full shard run into an empty folder (nothing reused)."""
    shutil.rmtree(config.out, ignore_errors=True)
    summary = run(config)
    if summary.failed_shards or summary.samples == 0:
        raise RuntimeError(f"shard run failed: {summary}")


#: The steps of the per-stage split: (label, owner, attribute) of the functions wrapped.
STEPS = [
    ("decode", samples, "_read"),
    ("faces", face_sources.BlackBorder, "locate"),
    ("faces", face_sources.EyePositions, "locate"),
    ("faces", samples, "face_source_for"),
    ("crop", faces, "crop"),
    ("pooling", samples, "dynamic_image"),
    ("pooling", samples, "quantise"),
    ("encode", samples, "encode_image"),
    ("hash", samples, "payload_digest"),
    ("write", TarWriter, "add_sample"),
]


@contextmanager
def step_timers() -> Iterator[dict[str, float]]:
    """Wrap each step's function with a timer for the duration of the block; seconds by step."""
    spent: dict[str, float] = defaultdict(float)
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in STEPS]

    def wrap(label: str, function: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started
        return timed

    try:
        for (label, owner, name), (_, _, function) in zip(STEPS, originals):
            setattr(owner, name, wrap(label, function))
        yield spent
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def warm_up() -> None:
    """Imports happen once per worker, not per shard."""
    import av  # noqa: F401
    import cv2  # noqa: F401

    from pipeline.dynamic import dynamic_image

    dynamic_image(np.zeros((7, 8, 8), np.uint8))


def bench(dataset: str, work: Path) -> dict[str, float]:
    config = bench_manifests(stage_config(dataset, work / "shards", workers=0), f"shard-{dataset}")
    reads = needed_frames(config)
    decode = best_of(lambda: decode_only(reads, config.sample.decoder), REPEAT)
    stage = best_of(lambda: shard_once(config), REPEAT)
    with step_timers() as spent:
        total = best_of(lambda: shard_once(config), 1)
    frames = sum(len(indices) for _, _, indices in reads)
    recordings = len(pd.read_parquet(config.manifests / "videos.parquet"))
    n_samples = len(pd.read_parquet(config.manifests / "samples.parquet"))
    split = dict(spent) | {"other": total - sum(spent.values())}
    rows = [[step, f"{seconds:.2f}", f"{100 * seconds / total:.0f}%", f"{1e3 * seconds / recordings:.1f}"]
            for step, seconds in split.items()]
    print(f"{dataset}: {recordings} recordings, {n_samples} samples, {frames} frames decoded "
          f"(image_format={config.sample.image_format}); per-stage split of one wrapped run ({total:.2f} s):")
    table(rows, ["step", "s", "share", "ms/recording"])
    verdict(f"shard/decode-once {dataset}", stage / decode, TARGET, False,
            f"shard {stage:.2f} s, decode only {decode:.2f} s ({1e3 * decode / frames:.2f} ms/frame), "
            f"{1e3 * stage / recordings:.1f} ms/recording, best of {REPEAT}")
    return {"stage": stage, "decode": decode}


def main() -> None:
    header("shard stage vs decoding its input once (1 process)")
    warm_up()
    with tempfile.TemporaryDirectory(prefix="bench-shard-") as folder:
        for dataset in DATASETS:
            bench(dataset, Path(folder) / dataset)


if __name__ == "__main__":
    main()
