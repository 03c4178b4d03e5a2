"""Private copies of the index manifests: each test's shard run then writes its own samples, rejects and shards."""
from __future__ import annotations

import shutil
from pathlib import Path

INDEX_MANIFESTS = ("videos.parquet", "protocols.parquet")


def copy_index_manifests(source: Path, target: Path) -> Path:
    """``videos.parquet`` and ``protocols.parquet`` of ``source`` copied into ``target`` (created); returns it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in INDEX_MANIFESTS:
        shutil.copy(source / name, target / name)
    return target
