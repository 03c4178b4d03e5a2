"""Stage defaults from ``params.yaml``: each stage reads only its own section."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def load_section(section: str, path: Path | None = None) -> dict[str, Any]:
    """The ``section`` mapping of ``params.yaml`` (the working directory's, else the repository's)."""
    candidates = [path] if path else [Path("params.yaml"), REPO / "params.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            document = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
            if section not in document:
                raise KeyError(f"{candidate}: no '{section}' section")
            return document[section]
    raise FileNotFoundError(f"no params.yaml found (looked at {[str(c) for c in candidates]})")


def dataset_path(template: str, dataset: str) -> Path:
    """``data/raw/{dataset}`` → ``data/raw/cefa``."""
    return Path(template.format(dataset=dataset))
