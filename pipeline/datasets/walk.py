"""Walking a raw tree: sorted folder listings where every unexpected entry becomes a reported problem."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .probe import VIDEO_SUFFIXES
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


def add_parsed(scan: Scan, root: Path, path: Path, parse: Callable[[Path], Recording]) -> Recording | None:
    """Parse one recording; a naming or schema error is reported against its path and the walk goes on."""
    rel = path.relative_to(root).as_posix()
    try:
        recording = parse(path)
    except ScanError as error:
        scan.add(problem=Problem(rel, error.reason, error.detail))
    except RecordError as error:
        scan.add(problem=Problem(rel, "invalid_record", str(error)))
    else:
        scan.add(recording=recording)
        return recording
    return None


def video_folder(folder: Path, scan: Scan, root: Path, annotation_suffix: str,
                 parse: Callable[[Path], Recording]) -> None:
    """Videos of one folder, each with an optional annotation file beside it (``.txt``, ``.face``).

    An annotation without its video, and any other file, is reported; a video without its
    annotation is kept and noted.
    """
    entries = sorted(folder.iterdir())
    videos = {p.stem for p in entries if p.suffix.lower() in VIDEO_SUFFIXES}
    for entry in entries:
        rel = entry.relative_to(root).as_posix()
        if entry.suffix.lower() in VIDEO_SUFFIXES:
            recording = add_parsed(scan, root, entry, parse)
            if recording is not None and recording.annotation is None:  # the adapter found no file beside it
                detail = f"no {annotation_suffix} file beside the video: a detector will find its faces"
                scan.notes.append(Problem(rel, "missing_annotation", detail))
        elif entry.suffix == annotation_suffix and entry.stem not in videos:
            scan.add(problem=Problem(rel, "orphan_annotation", f"{annotation_suffix} file without its video"))
        elif entry.suffix != annotation_suffix:
            scan.add(problem=Problem(rel, "unexpected_file", f"expected videos and {annotation_suffix} files"))
