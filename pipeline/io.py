"""Atomic writes: a reader never sees a half-written manifest under its final name."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_parquet_atomic(table: pd.DataFrame, path: Path) -> None:
    tmp = _temporary(path)
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def write_json_atomic(document: Any, path: Path) -> None:
    tmp = _temporary(path)
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
