"""Decoding: one interface over frame folders (JPEG sequences) and video containers.

``open_source(path)`` picks the reader by what the path is: a folder is read as an image sequence
addressed by frame number (the file's number, never its place in a file-system listing), a video
file through the decoder named by ``shard.decoder`` (:mod:`pipeline.video`: PyAV or decord, one decoder
thread each: the parallelism is across Dask workers, not inside one), addressed by frame position (0 is
the first frame shown), display rotation applied. Only the requested frames are decoded. Frames come back
as a list, not one array: in the CeFA and CASIA-SURF releases every frame is its own face crop, with its
own size.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .datasets.probe import VIDEO_SUFFIXES, numbered_frames
from .datasets.records import ScanError
from .errors import BadData


class DecodeError(BadData):
    """A frame or video cannot be decoded; the message names the file and what is wrong."""

    reason = "decode_error"

    def __init__(self, path: Path | str, detail: str):
        super().__init__(f"{path}: {detail}")
        self.path, self.problem = str(path), detail


class FramesPastEnd(DecodeError):
    """Frames requested past the last frame a video delivers (its header, or the index, promised more)."""

    reason = "past_end"


class DecodeTimeout(DecodeError):
    """A video took longer to open or read than ``shard.decode_timeout`` allows: the decoder was stopped."""

    reason = "decode_timeout"


class FrameSource(Protocol):
    path: Path

    def read(self, numbers: Sequence[int]) -> list[np.ndarray]:
        """Frames ``numbers`` as uint8 ``(H, W, 3)`` RGB or ``(H, W)`` grey arrays (sizes may differ)."""


class FrameFolder:
    """A folder of numbered images (``0001.jpg`` …, or ``1.jpg, 11.jpg, …``), read with OpenCV."""

    def __init__(self, path: Path, grey: bool = False):
        self.path = path
        self.grey = grey
        try:
            self.files = numbered_frames(path)
        except ScanError as error:
            raise DecodeError(path, error.detail) from None

    def read(self, numbers: Sequence[int]) -> list[np.ndarray]:
        import cv2

        frames = []
        for number in numbers:
            file = self.files.get(number)
            if file is None:
                raise DecodeError(self.path, f"frame number {number} is not in the folder (it was when the index "
                                             "ran: run `python -m pipeline.index` again)")
            image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE if self.grey else cv2.IMREAD_COLOR)
            if image is None:
                raise DecodeError(file, "not a readable image (corrupt or empty file)")
            frames.append(image if self.grey else cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        return frames


def past_end(path: Path | str, numbers: Sequence[int], n_frames: int) -> FramesPastEnd:
    return FramesPastEnd(path, f"frames {list(numbers)} requested, video holds {n_frames}")


def grey_frames(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """RGB video frames as grey, the mean of the three channels (every video decoder the same way)."""
    return [frame.mean(axis=2).round().astype(np.uint8) for frame in frames]


def open_source(path: Path, grey: bool = False, decoder: str = "auto", timeout: float | None = None) -> FrameSource:
    """The reader for ``path``: a frame folder, or a video file (by suffix) through ``decoder``
    (:data:`pipeline.video.DECODERS`); a video read past ``timeout`` seconds raises :class:`DecodeTimeout`."""
    if path.is_dir():
        return FrameFolder(path, grey)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not path.is_file():
            raise DecodeError(path, "video file does not exist")
        from .video import open_video

        return open_video(path, grey, decoder, timeout)
    raise DecodeError(path, "neither a frame folder nor a known video file")
