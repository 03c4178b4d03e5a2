"""Plan protocol-aligned shards: which windows of which recordings go into which tar.

A sample's *signature* is the set of protocol splits (``4_1/train``, …) it belongs to. Samples with
the same signature share shards and no shard mixes signatures, so every protocol split is exactly a
union of whole shards: a loader reads the shards of its split and never filters at read time.

The signature is per sample, not per recording, because a split may restrict frames: SiW Protocol 1
trains on the first 60 frames while its dev split reads whole videos. A recording gets the windows
each of its frame rules plans, and each window belongs to the splits whose rule planned it.
"""
from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .datasets.records import manifest_frame_numbers, paired_frame_numbers
from .paths import escapes_root
from .windows import Placement, frame_step, has_gap, plan_windows


@dataclass(frozen=True)
class WindowTask:
    index: int
    frames: tuple[int, ...]  # source frame numbers (file numbers of a frame folder, positions in a video)
    gap: bool = False  # the frames skip a number the recording's step would have had


@dataclass(frozen=True)
class RecordingTask:
    """One recording's windows inside one shard, with the manifest fields the worker needs."""

    video: dict[str, Any]
    windows: tuple[WindowTask, ...]


@dataclass(frozen=True)
class ShardPlan:
    name: str
    signature: tuple[str, ...]
    recordings: tuple[RecordingTask, ...]


@dataclass
class Plan:
    shards: list[ShardPlan]
    rejects: list[dict[str, str]]


def recording_windows(
    numbers: list[int], memberships: list[tuple[str, int | None]], length: int, count: int, step: int = 1,
    placement: Placement = Placement(),
) -> list[tuple[WindowTask, tuple[str, ...]]]:
    """Windows over one recording's paired frame ``numbers`` and, for each, the splits (``protocol/split``)
    that read it.

    Each distinct frame rule (the first N paired frames) plans its own W windows (placed by ``placement``); a
    split reads exactly the windows its own rule planned, so a split without a rule gets the same W windows over
    the whole recording for train, dev and test, whatever other protocols the recording belongs to.
    """
    limits = sorted({limit for _, limit in memberships}, key=lambda v: (v is not None, v or 0))
    starts: dict[int, tuple[int, ...]] = {}
    planned_by: dict[int, set[int | None]] = {}
    for limit in limits:
        for window in plan_windows(len(numbers), length, count, limit, placement):
            starts[int(window[0])] = tuple(numbers[int(i)] for i in window)
            planned_by.setdefault(int(window[0]), set()).add(limit)
    windows = []
    for index, start in enumerate(sorted(starts)):
        signature = tuple(sorted(split for split, limit in memberships if limit in planned_by[start]))
        frames = starts[start]
        windows.append((WindowTask(index, frames, has_gap(frames, step)), signature))
    return windows


def recording_frames(video: dict[str, Any]) -> tuple[list[int], int]:
    """A manifest row's paired frame numbers and the recording's usual frame step."""
    numbers = manifest_frame_numbers(video)
    return paired_frame_numbers(numbers), frame_step(n for values in numbers.values() for n in values)


#: ``<10 hex digits of the signature>-<chunk>``: what the shard stage writes, and all it ever deletes.
SHARD_NAME = re.compile(r"[0-9a-f]{10}-\d{5}")


def shard_name(signature: tuple[str, ...], chunk: int) -> str:
    """Stable name: a hash of the signature (unchanged when other groups come and go) and a chunk number."""
    digest = hashlib.sha1("\n".join(signature).encode()).hexdigest()[:10]
    return f"{digest}-{chunk:05d}"


def escaping_paths(video: dict[str, Any]) -> list[str]:
    """The recording's file paths that are absolute or climb out of the raw root with ``..``.

    videos.parquet is an input like any other (edited, or from someone else's index): a path in it
    must never make the shard stage read outside the dataset.
    """
    return [p for p in source_paths(video) if escapes_root(p)]


def source_paths(video: dict[str, Any]) -> list[str]:
    """Every file or frame folder the recording is read from (modalities and annotation), as listed."""
    return [v for k, v in sorted(video.items())
            if (k.startswith("path_") or k == "annotation_path") and isinstance(v, str)]


def plan_shards(
    videos: pd.DataFrame, protocols: pd.DataFrame, length: int, count: int, samples_per_shard: int,
    placement: Placement = Placement(),
) -> Plan:
    """Group every window by signature and cut each group into shards at recording boundaries."""
    memberships: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    for row in protocols.itertuples(index=False):
        limit = None if pd.isna(row.frame_limit) else int(row.frame_limit)
        memberships[row.video_id].append((f"{row.protocol}/{row.split}", limit))
    groups: dict[tuple[str, ...], dict[str, list[WindowTask]]] = defaultdict(lambda: defaultdict(list))
    records: dict[str, dict[str, Any]] = {}
    rejects = []
    for video in videos.sort_values("video_id").to_dict("records"):
        video_id = video["video_id"]
        escaping = escaping_paths(video)
        if escaping:
            rejects.append(reject_row(video_id, None, "plan", "unsafe_path",
                                      f"paths must stay inside the raw root: {escaping}"))
            continue
        if video_id not in memberships:
            rejects.append(reject_row(video_id, None, "plan", "not_in_any_protocol",
                                      "no protocol split selects this recording"))
            continue
        paired, step = recording_frames(video)
        windows = recording_windows(paired, memberships[video_id], length, count, step, placement)
        if not windows:
            counts = ", ".join(f"{m} {len(n)}" for m, n in manifest_frame_numbers(video).items())
            first = f" from position {placement.start}" if placement.start else ""
            rejects.append(reject_row(video_id, None, "plan", "too_short",
                                      f"{len(paired)} frame numbers in every modality ({counts}): no window of "
                                      f"{length}{first}"))
            continue
        records[video_id] = video
        for window, signature in windows:
            groups[signature][video_id].append(window)
    shards = []
    for signature in sorted(groups):
        shards += _chunk(signature, groups[signature], records, samples_per_shard)
    return Plan(shards=shards, rejects=rejects)


def _chunk(signature, by_video: dict[str, list[WindowTask]], records, samples_per_shard: int) -> list[ShardPlan]:
    shards: list[ShardPlan] = []
    current: list[RecordingTask] = []
    size = 0
    for video_id in sorted(by_video):
        task = RecordingTask(records[video_id], tuple(by_video[video_id]))
        if current and size + len(task.windows) > samples_per_shard:
            shards.append(ShardPlan(shard_name(signature, len(shards)), signature, tuple(current)))
            current, size = [], 0
        current.append(task)
        size += len(task.windows)
    if current:
        shards.append(ShardPlan(shard_name(signature, len(shards)), signature, tuple(current)))
    return shards


def reject_row(video_id: str, window: int | None, stage: str, reason: str, detail: str) -> dict[str, Any]:
    """One row of rejects.parquet (a whole recording when ``window`` is None): every stage builds them here."""
    return {"video_id": video_id, "window": window, "stage": stage, "reason": reason, "detail": detail}
