"""Video decoders against each other on the demo's Full-HD long-GOP H.264 (SiW ``--size full``: 1920 × 1080,
300 frames a video, a keyframe every 250 frames, B-frames), one decoder thread, in this process:

* every frame of four of the videos, read front to back in reads of 30 frames;
* the windows the shard stage reads from them (W windows of K frames spread over each video, one read per video);
* for each, PyAV (in this process) and decord as the stage runs it (in its child process, which copies the frames
  back through a pipe), and decord called directly, to show what the child costs;
* what counting the frames exactly (demuxing every packet, :func:`pipeline.datasets.probe.video_frame_count`)
  costs the index stage on all 16 videos, against reading the count from the header (OpenCV), as it did before.

``auto`` (``shard.decoder``) takes the faster where both are installed: this benchmark's verdicts say whether it
still does. The data is made once under ``data/bench`` (about 4 minutes on 2 cores).

    python benchmarks/bench_decoders.py       (or: make bench)
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from bench_shard import needed_frames
from common import BENCH, best_of, demo_data, header, stage_config, table, verdict
from pipeline.datasets import probe
from pipeline.frames import open_source
from pipeline.index import build_index
from pipeline.video import installed
from tests.videos import header_frame_count  # what the index read before: the header's count, through OpenCV

DATASET, SIZE = "siw", "full"
VIDEOS = 4  # timed decoding: the first four videos (1,200 frames) keep it to about two minutes on 2 cores
CHUNK = 30
REPEAT = 2


def every_frame(paths: list[Path], decoder: str) -> int:
    count = 0
    for path in paths:
        reader = open_source(path, decoder=decoder)
        for start in range(0, reader.n_frames, CHUNK):
            count += len(reader.read(list(range(start, min(start + CHUNK, reader.n_frames)))))
    return count


def windows(reads: list[tuple[Path, list[int]]], decoder: str) -> int:
    return sum(len(open_source(path, decoder=decoder).read(numbers)) for path, numbers in reads)


def decord_in_process(reads: list[tuple[Path, list[int]]]) -> int:
    """decord called directly, as the stage never does (a hang would stop the worker for good)."""
    import decord

    count = 0
    for path, numbers in reads:
        reader = decord.VideoReader(str(path), num_threads=1)
        for start in range(0, len(numbers), CHUNK):
            count += len(reader.get_batch(numbers[start:start + CHUNK]).asnumpy())
    return count


def index_seconds(root: Path, count: Callable[[Path], int]) -> float:
    """The index stage's time on ``root`` with the SiW adapter counting frames by ``count``."""
    original = probe.video_frame_count  # what the adapters' readable_frame_count calls
    probe.video_frame_count = count
    try:
        return best_of(lambda: build_index(DATASET, root), REPEAT)
    finally:
        probe.video_frame_count = original


def stage_reads(paths: list[Path]) -> list[tuple[Path, list[int]]]:
    """(video, frame positions) of the shard stage's one read per video of ``paths``: the frames of its windows in
    every shard task that holds it, as params.yaml plans them (bench_shard's plan; the output folder is not used)."""
    needed: dict[Path, set[int]] = {path: set() for path in paths}
    for path, _, numbers in needed_frames(stage_config(DATASET, BENCH / "unused", size=SIZE)):
        if path in needed:
            needed[path].update(numbers)
    return [(path, sorted(numbers)) for path, numbers in sorted(needed.items())]


def time_decoders(paths: list[Path], reads: list[tuple[Path, list[int]]]) -> dict[str, dict[str, float]]:
    """Seconds, by read ("every frame", "windows") and decoder, best of REPEAT."""
    timings: dict[str, dict[str, float]] = {"every frame": {}, "windows": {}}
    for decoder in ["pyav"] + (["decord"] if installed("decord") else []):
        timings["every frame"][decoder] = best_of(partial(every_frame, paths, decoder), REPEAT)
        timings["windows"][decoder] = best_of(partial(windows, reads, decoder), REPEAT)
    if installed("decord"):
        whole = [(path, list(range(probe.video_frame_count(path)))) for path in paths]
        timings["every frame"]["decord in process"] = best_of(partial(decord_in_process, whole), REPEAT)
        timings["windows"]["decord in process"] = best_of(partial(decord_in_process, reads), REPEAT)
    return timings


def main() -> None:
    import cv2

    cv2.setNumThreads(1)
    header(f"video decoders on the {DATASET} {SIZE} demo (Full-HD long-GOP H.264), one decoder thread")
    root, manifests = demo_data(DATASET, SIZE)
    every = sorted(root / path for path in pd.read_parquet(manifests / "videos.parquet")["path_rgb"])
    paths = every[:VIDEOS]
    reads = stage_reads(paths)
    frames = {"every frame": sum(probe.video_frame_count(path) for path in paths),
              "windows": sum(len(numbers) for _, numbers in reads)}
    timings = time_decoders(paths, reads)
    print(f"{len(paths)} videos, {frames['every frame']} frames; the stage's windows: {frames['windows']} frames "
          f"(best of {REPEAT}):")
    table([[task, name, f"{seconds:.2f}", f"{1e3 * seconds / frames[task]:.2f}",
            f"{seconds / timings[task]['pyav']:.2f}x"] for task, by in timings.items() for name, seconds in by.items()],
          ["read", "decoder", "s", "ms/frame", "/ pyav"])
    for task, by in timings.items():
        if "decord" in by:
            verdict(f"decoders pyav/decord {task}", by["pyav"] / by["decord"], 1.0, False,
                    f"pyav {by['pyav']:.2f} s, decord {by['decord']:.2f} s (auto takes pyav: it must not be slower)")
        else:
            print(f"  {task}: decord is not installed here, nothing to compare PyAV with")
    exact, claimed = index_seconds(root, probe.video_frame_count), index_seconds(root, header_frame_count)
    started = time.perf_counter()
    counts = [probe.video_frame_count(path) for path in every]
    per_video = (time.perf_counter() - started) / len(every)
    assert counts == [header_frame_count(path) for path in every]  # the demo's headers are true
    verdict(f"index {DATASET} {SIZE}: exact frame counts/header counts", exact / claimed, 1.5, False,
            f"{exact:.2f} vs {claimed:.2f} s for {len(every)} videos ({1e3 * per_video:.1f} ms a video to demux "
            f"every packet, {1e3 * timings['windows']['pyav'] / len(paths):.0f} ms to decode its windows)")


if __name__ == "__main__":
    main()
