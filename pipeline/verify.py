"""Check shards against their manifests: counts, per-sample hashes, every member decodable.

    python -m pipeline.verify --shards data/shards/cefa [--manifests manifests/cefa]

Reads every tar in memory (nothing is extracted, nothing is unpickled) and exits non-zero naming
the shard and the sample of every mismatch.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from .cli import add_verbosity_arguments, command, configure_logging
from .errors import UsageError
from .format.images import IMAGE_FORMATS, decode_image
from .format.members import payload_digest
from .format.tars import read_tar_samples

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


def verify(shard_dir: Path, manifests: Path) -> list[str]:
    """Every mismatch between the tars in ``shard_dir`` and the manifests, as readable lines."""
    samples = pd.read_parquet(manifests / "samples.parquet")
    shards = pd.read_parquet(manifests / "shards.parquet")
    expected = {shard: rows for shard, rows in samples.groupby("shard")}
    problems = []
    listed = set(shards["shard"])
    for extra in sorted({p.stem for p in shard_dir.glob("*.tar")} - listed):
        problems.append(f"{extra}.tar: shard not in shards.parquet")
    for row in shards.itertuples(index=False):
        problems += _verify_shard(shard_dir / f"{row.shard}.tar", int(row.n_samples), expected.get(row.shard))
    return problems


def _verify_shard(path: Path, n_samples: int, rows: pd.DataFrame | None) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: missing"]
    try:
        found = read_tar_samples(path)
    except (ValueError, OSError) as error:
        return [f"{path.name}: unreadable tar ({error})"]
    digests = {} if rows is None else dict(zip(rows["key"], rows["sha256"]))
    problems = []
    if len(found) != n_samples:
        problems.append(f"{path.name}: {len(found)} samples, shards.parquet says {n_samples}")
    for key in sorted(set(digests) - set(found)):
        problems.append(f"{path.name}: sample {key} in samples.parquet but not in the shard")
    for key, members in sorted(found.items()):
        if key not in digests:
            problems.append(f"{path.name}: sample {key} not in samples.parquet")
            continue
        if payload_digest(members) != digests[key]:
            problems.append(f"{path.name}: sample {key} hash differs from samples.parquet")
        for extension, data in sorted(members.items()):
            issue = member_problem(extension, data)
            if issue:
                problems.append(f"{path.name}: sample {key} member .{extension}: {issue}")
    return problems


@command("python -m pipeline.verify")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", required=True, type=Path, help="folder of .tar shards")
    parser.add_argument("--manifests", type=Path, help="manifest folder (default: manifests/<shard folder name>)")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    manifests = args.manifests or Path("manifests") / args.shards.name
    for name in ("samples.parquet", "shards.parquet"):
        if not (manifests / name).is_file():
            raise UsageError(f"{manifests / name} does not exist: run python -m pipeline.shard first (or pass "
                             "--manifests DIR)")
    if not args.shards.is_dir():
        raise UsageError(f"--shards {args.shards}: no such folder (the shard stage's --out)")
    problems = verify(args.shards, manifests)
    for problem in problems:
        log.error("%s", problem)
    if problems:
        log.error("verify failed: %d problems in %s", len(problems), args.shards)
        return 1
    log.info("verify ok: every shard in %s matches %s", args.shards, manifests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
