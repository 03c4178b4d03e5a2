"""Decoding: one interface over frame folders (JPEG sequences) and video containers.

``open_source(path)`` picks the reader by what the path is: a folder is read as an image sequence in
numeric frame order (never file-system order), a video file through decord with one decoder thread
(the parallelism is across Dask workers, not inside one). Only the requested frames are decoded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .datasets.probe import VIDEO_SUFFIXES, frame_files


class DecodeError(RuntimeError):
    """A frame or video cannot be decoded; the message names the file and what is wrong."""

    def __init__(self, path: Path | str, detail: str):
        super().__init__(f"{path}: {detail}")
        self.path = str(path)
        self.detail = detail


class FrameSource(Protocol):
    path: Path
    n_frames: int

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` as uint8, ``(N, H, W, 3)`` RGB or ``(N, H, W)`` grey."""


class FrameFolder:
    """A folder of numbered images (``0001.jpg`` …), read with OpenCV."""

    def __init__(self, path: Path, grey: bool = False):
        self.path = path
        self.grey = grey
        self.files = frame_files(path)
        self.n_frames = len(self.files)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        import cv2

        frames = []
        for index in indices:
            if not 0 <= index < self.n_frames:
                raise DecodeError(self.path, f"frame {index} requested, folder holds {self.n_frames}")
            file = self.files[index]
            image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE if self.grey else cv2.IMREAD_COLOR)
            if image is None:
                raise DecodeError(file, "not a readable image (corrupt or empty file)")
            frames.append(image if self.grey else cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return _stack(frames, self.path)


class VideoFile:
    """A video container read through decord, one decoder thread."""

    def __init__(self, path: Path, grey: bool = False):
        import decord

        self.path = path
        self.grey = grey
        try:
            self._reader = decord.VideoReader(str(path), num_threads=1)
        except Exception as error:  # decord raises its own DECORDError for every container problem
            raise DecodeError(path, f"cannot open video ({type(error).__name__}: {error})") from None
        self.n_frames = len(self._reader)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        if any(not 0 <= i < self.n_frames for i in indices):
            raise DecodeError(self.path, f"frames {list(indices)} requested, video holds {self.n_frames}")
        try:
            frames = self._reader.get_batch(list(indices)).asnumpy()
        except Exception as error:
            raise DecodeError(self.path, f"cannot decode frames {list(indices)} ({type(error).__name__})") from None
        if self.grey:
            return frames.mean(axis=3).round().astype(np.uint8)
        return frames


def _stack(frames: list[np.ndarray], path: Path) -> np.ndarray:
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise DecodeError(path, f"frames of different sizes {sorted(shapes)}")
    return np.stack(frames)


def open_source(path: Path, grey: bool = False) -> FrameSource:
    """The reader for ``path``: a frame folder or a video file (by suffix)."""
    if path.is_dir():
        return FrameFolder(path, grey)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not path.is_file():
            raise DecodeError(path, "video file does not exist")
        return VideoFile(path, grey)
    raise DecodeError(path, "neither a frame folder nor a known video file")
