"""Writing and reading test tars member by member (the tests build damaged and hostile shards)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Iterable


def write_tar(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    """A GNU tar of ``(name, bytes)`` members, in the given order, names taken as they are."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def tar_members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]
