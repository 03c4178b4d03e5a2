"""One Dask task: write one shard (a WebDataset tar) atomically and deterministically.

In a folder, the tar is written under a temporary name unique to the attempt and renamed to its final
name when complete. To an object store (a URL ``--out``), which has no rename, the tar is built in a local
staging file (:func:`pipeline.storage.staging_file`) and uploaded whole, so an object under its final name
is complete too. Only then are the shard's manifest rows saved beside it (``_parts/<shard>.json``, with the
plan, settings and sources digests): the part is the commit mark. A rerun reuses a shard only when both
exist and the digests and the tar's size match: a shard whose raw files changed (a regenerated demo, a
repaired frame) is written again. The tar writer (:mod:`pipeline.format.tars`) gives members fixed
metadata, so the same inputs give byte-identical tars, in a folder or in a bucket.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from . import storage
from .datasets.probe import numbered_frames
from .errors import BadData
from .format.tars import TarWriter
from .io import temporary_path
from .plan import ShardPlan, reject_row, source_paths
from .samples import SampleConfig, recording_samples
from .storage import Location

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


def part_path(out_dir: str | Path, shard: str) -> Location:
    return storage.join(out_dir, PARTS, f"{shard}.json")


def finished_part(plan: ShardPlan, part: bytes | None, tar_size: int | None, config_digest: str,
                  root: Path) -> dict[str, Any] | None:
    """The saved result of a shard that is complete for this plan, these settings (``SampleConfig.digest``)
    and the raw files as they are now under ``root``, else None. ``part`` is the bytes of its
    ``_parts/<shard>.json`` and ``tar_size`` the size of its tar, None where either is missing (the stage
    lists the output once and reads the parts together: see ``pipeline.shard``)."""
    if part is None or tar_size is None:
        return None
    try:
        result = json.loads(part)
    except ValueError:  # a damaged part vouches for nothing: the shard is redone
        return None
    if not isinstance(result, dict):
        return None
    if result.get("plan_digest") != plan_digest(plan) or result.get("config_digest") != config_digest:
        return None
    if tar_size != result.get("n_bytes"):  # the tar changed (truncated) after it was written
        return None
    if result.get("sources_digest") != sources_digest(plan, root):
        log.info("shard %s: its raw files changed since it was written; writing it again", plan.name)
        return None
    return result


def write_shard(plan: ShardPlan, root: str, out_dir: str, config: SampleConfig,
                storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``<out_dir>/<plan.name>.tar`` (a folder or a URL); return its manifest rows (never pixels).
    ``storage_options``: the driver's ``storage`` settings (:func:`pipeline.storage.configured`)."""
    import cv2

    cv2.setNumThreads(1)  # parallelism comes from Dask workers, one thread each
    storage.use_configuration(storage_options or {})
    out = storage.as_location(out_dir)
    sources = sources_digest(plan, Path(root))  # before reading: a file changed meanwhile redoes the shard
    final = storage.join(out, f"{plan.name}.tar")
    tmp = temporary_path(final) if isinstance(final, Path) else storage.staging_file(f"{plan.name}.tar")
    try:
        with open(tmp, "wb") as handle:
            samples, rejects = _write_tar(plan, Path(root), config, handle)
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
        _commit(tmp, final, part_path(out, plan.name), result)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(error.errno, f"{error.strerror} while writing shard {final}") from error
        raise
    finally:
        tmp.unlink(missing_ok=True)  # an interrupted or failed attempt leaves nothing behind
    return result


def _write_tar(plan: ShardPlan, root: Path, config: SampleConfig,
               handle: BinaryIO) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The plan's samples into a tar on ``handle``; (sample rows, reject rows)."""
    samples, rejects = [], []
    with TarWriter(handle) as tar:
        for task in plan.recordings:
            try:
                made, dropped = recording_samples(task, root, config)
            except DATA_ERRORS as error:
                made, dropped = [], [_failed(task.video["video_id"], error)]
            for sample in made:
                tar.add_sample(sample.key, sample.members)
                samples.append(sample.row | {"shard": plan.name})
            rejects += dropped
    return samples, rejects


def _commit(tmp: Path, final: Location, part: Location, result: dict[str, Any]) -> None:
    """The finished tar under its final name (a rename in a folder, one whole upload to a store), then its
    part: an older part must never vouch for the new tar, nor a part for a tar that is not there."""
    storage.remove(part)
    if isinstance(final, Path):
        os.replace(tmp, final)
    else:
        storage.upload(tmp, final)
    try:
        storage.write_json(part, result)
    except BaseException:  # a tar its part does not vouch for is no output either
        storage.remove(final)
        raise


def _failed(video_id: str, error: BadData) -> dict[str, Any]:
    return reject_row(video_id, None, "shard", error.reason, str(error))
