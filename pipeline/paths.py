"""The one rule for paths that come from data (manifests, list files): they stay inside their root."""
from __future__ import annotations

from pathlib import PurePosixPath


def escapes_root(path: str) -> bool:
    """True for an absolute path or one with a ``..`` step (``/`` or ``\\`` separated): such a path,
    read from a manifest or a list, could make a tool read outside the dataset."""
    parts = PurePosixPath(path.replace("\\", "/"))
    return parts.is_absolute() or ".." in parts.parts
