"""Cheap facts about frame folders and video files, read without decoding any pixels."""
from __future__ import annotations

from pathlib import Path

from .records import ScanError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
VIDEO_SUFFIXES = frozenset({".avi", ".mov", ".mp4", ".mkv"})


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in numeric frame order (``2.jpg`` before ``10.jpg``).

    Files whose stem is not a number are not frames and are left out; callers that care compare
    against the folder listing.
    """
    frames = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()]
    return sorted(frames, key=lambda p: (int(p.stem), p.name))


def video_frame_count(path: Path) -> int:
    """Frame count from the container header (no decoding); 0 when the file cannot be opened."""
    import cv2  # lazy: only the video datasets need it

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return 0
        return max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        capture.release()


def locate(root: Path, folder_name: str) -> Path:
    """Accept either the dataset's own top folder or the folder that holds it as the raw root."""
    return root if root.name == folder_name else root / folder_name


def frame_folder_modalities(
    recording_dir: Path, folder_names: dict[str, str], root: Path
) -> tuple[dict[str, str], dict[str, int]]:
    """Relative path and frame count of each modality folder of a frame-folder recording.

    Raises :class:`ScanError` (``missing_modality``/``no_frames``), which the walk reports.
    """
    paths: dict[str, str] = {}
    counts: dict[str, int] = {}
    for modality, name in folder_names.items():
        folder = recording_dir / name
        if not folder.is_dir():
            raise ScanError("missing_modality", f"no '{name}' folder for {modality}")
        n_frames = len(frame_files(folder))
        if n_frames == 0:
            raise ScanError("no_frames", f"'{name}' holds no numbered image files")
        paths[modality] = folder.relative_to(root).as_posix()
        counts[modality] = n_frames
    return paths, counts
