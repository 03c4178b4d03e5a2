"""Cheap facts about frame folders and video files, read without decoding any pixels."""
from __future__ import annotations

from pathlib import Path

from .records import ScanError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
VIDEO_SUFFIXES = frozenset({".avi", ".mov", ".mp4", ".mkv"})


def numbered_frames(folder: Path) -> dict[int, Path]:
    """Frame number → image file of a frame folder, in ascending frame order (``2.jpg`` before ``10.jpg``).

    The number is the file's stem (``0001.jpg`` and ``1.jpg`` are both frame 1; CASIA-SURF's every-10th
    frames are ``1.jpg, 11.jpg, …``). Files whose stem is not a number are not frames and are left out.
    Two files with one number (``0001.jpg`` beside ``1.jpg`` or ``0001.png``) are ambiguous: refused.
    """
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isdigit()]
    frames: dict[int, Path] = {}
    for path in sorted(images, key=lambda p: (int(p.stem), p.name)):
        number = int(path.stem)
        if number in frames:
            raise ScanError("duplicate_frame_number", f"{frames[number].name} and {path.name} are both frame {number}")
        frames[number] = path
    return frames


def video_frame_count(path: Path) -> int:
    """The number of frames a decoder delivers from the video: its packets, counted by demuxing the file without
    decoding it (:mod:`pipeline.video.packets`), never the container header's claim, which can overstate it (a
    phone's variable-rate MP4, an AVI whose count was written before the recording stopped, a file cut short).
    0 when the file cannot be read as a video."""
    import av  # lazy: only the video datasets need it

    from ..video.packets import video_packets

    try:
        return video_packets(path).n_frames
    except (av.error.FFmpegError, ValueError, OSError):
        return 0


def readable_frame_count(path: Path) -> int:
    """:func:`video_frame_count`, refusing a video that delivers no frame (``unreadable_video``)."""
    n_frames = video_frame_count(path)
    if n_frames == 0:
        raise ScanError("unreadable_video", "no video frames can be read from it (empty, cut short or not a video)")
    return n_frames


def video_rotation(path: Path) -> int:
    """Degrees a player turns the video clockwise to show it upright (the container's display matrix:
    phones store the sensor's pixels and this rotation); 0 when there is none or the file cannot be opened."""
    import av

    from ..video.pyav_reader import display_rotation  # counter-clockwise degrees

    try:
        return -display_rotation(path) % 360
    except (av.error.FFmpegError, OSError):
        return 0


def locate(root: Path, folder_name: str) -> Path:
    """Accept either the dataset's own top folder or the folder that holds it as the raw root."""
    return root if root.name == folder_name else root / folder_name


def frame_folder_modalities(
    recording_dir: Path, folder_names: dict[str, str], root: Path
) -> tuple[dict[str, str], dict[str, tuple[int, ...]]]:
    """Relative path and frame numbers of each modality folder of a frame-folder recording.

    Raises :class:`ScanError` (``missing_modality``/``no_frames``/``duplicate_frame_number``), which the
    walk reports.
    """
    paths: dict[str, str] = {}
    numbers: dict[str, tuple[int, ...]] = {}
    for modality, name in folder_names.items():
        folder = recording_dir / name
        if not folder.is_dir():
            raise ScanError("missing_modality", f"no '{name}' folder for {modality}")
        frames = numbered_frames(folder)
        if not frames:
            raise ScanError("no_frames", f"'{name}' holds no numbered image files")
        paths[modality] = folder.relative_to(root).as_posix()
        numbers[modality] = tuple(frames)
    return paths, numbers
