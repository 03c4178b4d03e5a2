"""Check shards against their manifests: counts, per-sample hashes, every member decodable.

    python -m pipeline.verify --shards data/shards/cefa [--manifests manifests/cefa]
    python -m pipeline.verify --shards s3://bucket/shards/cefa --manifests s3://bucket/manifests/cefa

Reads every tar in memory (nothing is extracted, nothing is unpickled), from a folder or a store, and
exits non-zero naming the shard and the sample of every mismatch.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from . import storage
from .cli import add_params_argument, add_verbosity_arguments, command, configure_logging
from .errors import UsageError
from .format.images import IMAGE_FORMATS, decode_image
from .format.members import payload_digest
from .format.tars import read_tar_samples
from .params import load_section
from .storage import Location

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = tuple(f".{name}" for name in IMAGE_FORMATS)


def member_problem(extension: str, data: bytes) -> str | None:
    """Why a member cannot be decoded, or None. Only images and JSON are ever decoded."""
    if extension == "json":
        try:
            json.loads(data)
        except ValueError as error:
            return f"invalid JSON ({error})"
        return None
    if extension.endswith(IMAGE_EXTENSIONS):
        try:
            decode_image(data)
        except ValueError as error:
            return str(error)
        return None
    return f"unexpected member type .{extension} (never decoded)"


def verify(shard_dir: str | Path, manifests: str | Path) -> list[str]:
    """Every mismatch between the tars in ``shard_dir`` and the manifests (folders or URLs), as readable lines."""
    samples = storage.read_parquet(storage.join(manifests, "samples.parquet"))
    shards = storage.read_parquet(storage.join(manifests, "shards.parquet"))
    expected = {shard: rows for shard, rows in samples.groupby("shard")}
    problems = []
    listed = set(shards["shard"])
    present = storage.files(shard_dir, ".tar")
    for extra in sorted({name[:-len(".tar")] for name in present} - listed):
        problems.append(f"{extra}.tar: shard not in shards.parquet")
    for row in shards.itertuples(index=False):
        name = f"{row.shard}.tar"
        problems += ([f"{name}: missing"] if name not in present else
                     _verify_shard(storage.join(shard_dir, name), int(row.n_samples), expected.get(row.shard)))
    return problems


def _verify_shard(path: Location, n_samples: int, rows: pd.DataFrame | None) -> list[str]:
    name = storage.name_of(path)
    try:
        found = read_tar_samples(path)
    except (ValueError, OSError) as error:
        return [f"{name}: unreadable tar ({error})"]
    digests = {} if rows is None else dict(zip(rows["key"], rows["sha256"]))
    problems = []
    if len(found) != n_samples:
        problems.append(f"{name}: {len(found)} samples, shards.parquet says {n_samples}")
    for key in sorted(set(digests) - set(found)):
        problems.append(f"{name}: sample {key} in samples.parquet but not in the shard")
    for key, members in sorted(found.items()):
        if key not in digests:
            problems.append(f"{name}: sample {key} not in samples.parquet")
            continue
        if payload_digest(members) != digests[key]:
            problems.append(f"{name}: sample {key} hash differs from samples.parquet")
        for extension, data in sorted(members.items()):
            issue = member_problem(extension, data)
            if issue:
                problems.append(f"{name}: sample {key} member .{extension}: {issue}")
    return problems


@command("python -m pipeline.verify")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", required=True, help="folder or URL (s3://bucket/prefix) of the .tar shards")
    parser.add_argument("--manifests", help="manifest folder or URL (default: manifests/<shard folder name>)")
    add_params_argument(parser, "the storage section")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    storage.configure(load_section("storage", args.params))
    shards = storage.as_location(args.shards)
    manifests = storage.as_location(args.manifests) if args.manifests else Path("manifests") / storage.name_of(shards)
    for name in ("samples.parquet", "shards.parquet"):
        if not storage.is_file(storage.join(manifests, name)):
            raise UsageError(f"{storage.join(manifests, name)} does not exist: run python -m pipeline.shard first (or "
                             "pass --manifests DIR)")
    if not storage.is_dir(shards):
        raise UsageError(f"--shards {shards}: no such folder (the shard stage's --out)")
    problems = verify(shards, manifests)
    for problem in problems:
        log.error("%s", problem)
    if problems:
        log.error("verify failed: %d problems in %s", len(problems), shards)
        return 1
    log.info("verify ok: every shard in %s matches %s", shards, manifests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
