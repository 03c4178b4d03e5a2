"""Atomic writes: a reader never sees a half-written manifest, page or plot under its final name."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

#: What a temporary name looks like (see :func:`temporary_path`): what a clean-up may remove.
TEMPORARY_GLOB = ".*.tmp-*"


def temporary_path(path: Path) -> Path:
    """The name ``path`` is written under until it is complete: hidden, beside it, unique to this process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove_temporaries(folder: Path) -> None:
    """Remove what interrupted writes left in ``folder`` (names made by :func:`temporary_path` only)."""
    for leftover in folder.glob(TEMPORARY_GLOB):
        leftover.unlink(missing_ok=True)


def replace_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary name beside ``path``, then rename it over ``path``."""
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a failed write (a full disk) leaves nothing behind


def write_bytes_atomic(data: bytes, path: Path) -> None:
    replace_atomically(path, lambda tmp: tmp.write_bytes(data))


def write_parquet_atomic(table: pd.DataFrame, path: Path) -> None:
    replace_atomically(path, lambda tmp: table.to_parquet(tmp, index=False))


def json_text(document: Any) -> str:
    """How every JSON file of ours is written (sorted keys, indented), wherever it is stored."""
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def write_json_atomic(document: Any, path: Path) -> None:
    text = json_text(document)
    replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
