"""Writing and reading test tars member by member (the tests build damaged and hostile shards), through the
shard format's own tar writer and reader."""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.format.tars import TarWriter, tar_members as read_members


def write_tar(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    """A GNU tar of ``(name, bytes)`` members, in the given order, names taken as they are."""
    with open(path, "wb") as handle, TarWriter(handle) as tar:
        for name, data in members:
            tar.add(name, data)
    return path


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    with open(path, "rb") as handle:
        return list(read_members(handle, str(path)))
