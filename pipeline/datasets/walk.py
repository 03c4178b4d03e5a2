"""Walking a raw tree: sorted folder listings where every unexpected entry becomes a reported problem."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .probe import VIDEO_SUFFIXES, locate
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


def add_video(scan: Scan, root: Path, video: Path, parse: Callable[[Path], Recording], annotation: str) -> None:
    """Parse one video; one kept without its ``annotation`` (the adapter found none) is noted."""
    recording = add_parsed(scan, root, video, parse)
    if recording is not None and recording.annotation is None:
        detail = f"no {annotation}: a detector will find its faces"
        scan.notes.append(Problem(video.relative_to(root).as_posix(), "missing_annotation", detail))


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
            add_video(scan, root, entry, parse, f"{annotation_suffix} file beside the video")
        elif entry.suffix == annotation_suffix and entry.stem not in videos:
            scan.add(problem=Problem(rel, "orphan_annotation", f"{annotation_suffix} file without its video"))
        elif entry.suffix != annotation_suffix:
            scan.add(problem=Problem(rel, "unexpected_file", f"expected videos and {annotation_suffix} files"))


def release_base(root: Path, top_folder: str, contents: tuple[str, ...]) -> Path:
    """Where a release's content sits: ``root`` when it holds one of the ``contents`` folders directly (a
    release unpacked without its top folder), else as :func:`~.probe.locate` finds it."""
    if any((root / name).is_dir() for name in contents):
        return root
    return locate(root, top_folder)


def mirrored_annotations(folder: Path, base: Path, suffix: str, scan: Scan, root: Path) -> None:
    """Report what an annotation tree mirroring the release (bob's ``face-locations/``) holds beyond one
    ``suffix`` file per video of ``base``: an annotation whose video is missing, any other file."""
    if not folder.is_dir():
        return
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix != suffix:
            scan.add(problem=Problem(rel, "unexpected_file", f"expected {suffix} files mirroring the videos"))
        elif not any((base / path.relative_to(folder)).with_suffix(s).is_file() for s in VIDEO_SUFFIXES):
            scan.add(problem=Problem(rel, "orphan_annotation", f"{suffix} file without its video"))
