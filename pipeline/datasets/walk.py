"""Walking a raw tree: sorted folder listings where every unexpected entry becomes a reported problem."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .records import Problem, RecordError, Recording, Scan, ScanError


def subdirs(folder: Path, scan: Scan, root: Path, allowed: set[str] | None = None) -> list[Path]:
    """Sorted sub-folders of ``folder``; stray files and names outside ``allowed`` are reported."""
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        rel = entry.relative_to(root).as_posix()
        if not entry.is_dir():
            scan.add(problem=Problem(rel, "unexpected_file", "a file where folders are expected"))
        elif allowed is not None and entry.name not in allowed:
            scan.add(problem=Problem(rel, "unknown_name", f"expected one of {sorted(allowed)}"))
        else:
            found.append(entry)
    return found


def add_parsed(scan: Scan, root: Path, path: Path, parse: Callable[[Path], Recording]) -> None:
    """Parse one recording; a naming or schema error is reported against its path and the walk goes on."""
    rel = path.relative_to(root).as_posix()
    try:
        scan.add(recording=parse(path))
    except ScanError as error:
        scan.add(problem=Problem(rel, error.reason, error.detail))
    except RecordError as error:
        scan.add(problem=Problem(rel, "invalid_record", str(error)))
