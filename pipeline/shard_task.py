"""One Dask task: write one shard (a WebDataset tar) atomically and deterministically.

The tar is written under a temporary name unique to the attempt and renamed to its final name when
complete; only then are its manifest rows saved beside it (``_parts/<shard>.json``, with the plan,
settings and sources digests). A tar under its final name is always complete, and a rerun reuses a
shard only when both exist and the digests match: a shard whose raw files changed (a regenerated
demo, a repaired frame) is written again. The tar writer (:mod:`pipeline.format.tars`) gives members
fixed metadata, so the same inputs give byte-identical tars.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .datasets.probe import numbered_frames
from .errors import BadData
from .format.tars import TarWriter
from .io import temporary_path, write_json_atomic
from .plan import ShardPlan, reject_row, source_paths
from .samples import SampleConfig, recording_samples

log = logging.getLogger(__name__)

PARTS = "_parts"
#: Errors that mean "this recording's data is bad": they become rejects. Anything else is a bug
#: (or the machine: a full disk) and fails the task, so it is retried or reported, never hidden.
#: (Bad annotations never get here: the window falls back to the detector and says why.)
DATA_ERRORS = (BadData,)


def plan_digest(plan: ShardPlan) -> str:
    content = [plan.signature, [(r.video["video_id"], [asdict(w) for w in r.windows]) for r in plan.recordings]]
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=list).encode()).hexdigest()[:16]


def sources_digest(plan: ShardPlan, root: Path) -> str:
    """Size and modification time of every raw file the plan's windows read.

    Cheap (nothing is read, as with make's timestamps), and a file changed or replaced in place shows;
    a copy that does not keep modification times counts as changed. Only the frames the windows use
    are looked at, by frame number; a missing or unusable path counts as such.
    """
    stats: list[tuple[str, None] | tuple[str, int, int]] = []
    for task in plan.recordings:
        needed = sorted({number for window in task.windows for number in window.frames})
        for rel in source_paths(task.video):
            for file in _files_read(root / rel, needed):
                try:
                    info = file.stat()
                except (OSError, ValueError):  # missing or unusable: the worker reports it as a reject
                    stats.append((file.relative_to(root).as_posix(), None))
                else:
                    stats.append((file.relative_to(root).as_posix(), info.st_size, info.st_mtime_ns))
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]


def _files_read(path: Path, needed: list[int]) -> list[Path]:
    """The needed frames of a frame folder (a missing one as the folder itself), else the path itself."""
    try:
        if not path.is_dir():
            return [path]  # a video, an annotation file, or a missing path
        frames = numbered_frames(path)
    except (OSError, ValueError):
        return [path]
    return [frames.get(number, path) for number in needed]


def part_path(out_dir: Path, shard: str) -> Path:
    return out_dir / PARTS / f"{shard}.json"


def finished_part(out_dir: Path, plan: ShardPlan, config_digest: str, root: Path) -> dict[str, Any] | None:
    """The saved result of a shard that is complete for this plan, these settings (``SampleConfig.digest``)
    and the raw files as they are now under ``root``, else None."""
    part, tar = part_path(out_dir, plan.name), out_dir / f"{plan.name}.tar"
    if not (part.is_file() and tar.is_file()):
        return None
    try:
        result = json.loads(part.read_text())
    except (OSError, ValueError):  # a damaged part vouches for nothing: the shard is redone
        return None
    if result.get("plan_digest") != plan_digest(plan) or result.get("config_digest") != config_digest:
        return None
    if tar.stat().st_size != result.get("n_bytes"):  # the tar changed (truncated) after it was written
        return None
    if result.get("sources_digest") != sources_digest(plan, root):
        log.info("shard %s: its raw files changed since it was written; writing it again", plan.name)
        return None
    return result


def write_shard(plan: ShardPlan, root: str, out_dir: str, config: SampleConfig) -> dict[str, Any]:
    """Write ``<out_dir>/<plan.name>.tar``; return its manifest rows (never pixels)."""
    import cv2

    cv2.setNumThreads(1)  # parallelism comes from Dask workers, one thread each
    out = Path(out_dir)
    sources = sources_digest(plan, Path(root))  # before reading: a file changed meanwhile redoes the shard
    final = out / f"{plan.name}.tar"
    tmp = temporary_path(final)
    samples, rejects = [], []
    try:
        with open(tmp, "wb") as handle, TarWriter(handle) as tar:
            for task in plan.recordings:
                try:
                    made, dropped = recording_samples(task, Path(root), config)
                except DATA_ERRORS as error:
                    made, dropped = [], [_failed(task.video["video_id"], error)]
                for sample in made:
                    tar.add_sample(sample.key, sample.members)
                    samples.append(sample.row | {"shard": plan.name})
                rejects += dropped
        result = {
            "shard": plan.name,
            "signature": list(plan.signature),
            "n_samples": len(samples),
            "n_bytes": tmp.stat().st_size,
            "samples": samples,
            "rejects": rejects,
            "plan_digest": plan_digest(plan),
            "config_digest": config.digest(),
            "sources_digest": sources,
        }
        part_path(out, plan.name).unlink(missing_ok=True)  # an older part must never vouch for this tar
        os.replace(tmp, final)
        try:
            write_json_atomic(result, part_path(out, plan.name))
        except BaseException:  # a tar its part does not vouch for is no output either
            final.unlink(missing_ok=True)
            raise
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(error.errno, f"{error.strerror} while writing shard {final}") from error
        raise
    finally:
        tmp.unlink(missing_ok=True)  # an interrupted or failed attempt leaves nothing behind
    return result


def _failed(video_id: str, error: BadData) -> dict[str, Any]:
    return reject_row(video_id, None, "shard", error.reason, str(error))
