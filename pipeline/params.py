"""Stage defaults from ``params.yaml``: each stage reads its own section, and its dataset's raw root."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def load_params(path: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """``params.yaml`` (the given one, else the working directory's, else the repository's) and its contents."""
    candidates = [path] if path else [Path("params.yaml"), REPO / "params.yaml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate, yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
    raise FileNotFoundError(f"no params.yaml found (looked at {[str(c) for c in candidates]})")


def load_section(section: str, path: Path | None = None) -> dict[str, Any]:
    """The ``section`` mapping of ``params.yaml``."""
    source, document = load_params(path)
    if section not in document:
        raise KeyError(f"{source}: no '{section}' section")
    return document[section]


def raw_root(dataset: str, path: Path | None = None) -> Path:
    """Where ``dataset``'s raw release is read from: its entry in the ``raw`` mapping of ``params.yaml``."""
    source, document = load_params(path)
    roots = document.get("raw") or {}
    if dataset not in roots:
        raise KeyError(f"{source}: no raw root for {dataset!r} in its 'raw' mapping (it has {sorted(roots)}); "
                       "add one, or pass --root")
    return Path(str(roots[dataset]))


def dataset_path(template: str, dataset: str) -> Path:
    """``manifests/{dataset}`` → ``manifests/cefa``."""
    return Path(template.format(dataset=dataset))
