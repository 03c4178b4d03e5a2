"""Frames of a video container by position, through decord 0.6 with one decoder thread.

It runs in the child process of :mod:`.child`, never in a worker itself. Two of decord's faults are kept
away from it here. Its length is the container header's, and asked for a frame past the real end it can
spin forever (dmlc/decord#373): the length used is the count of packets (:mod:`.packets`), and a read past
it is refused before decord sees it. It applies a display rotation of 180° itself, but at 90° or 270° it
returns a wrongly sized buffer, or none (the rotated row is padded and decord copies it as if it were not):
such a file is read through PyAV, which turns it the same way.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .packets import video_packets
from .pyav_reader import PyAVVideo, display_rotation
from ..frames import DecodeError, grey_frames, past_end


class DecordVideo:
    """A video file read through decord; frame numbers are positions (0 = the first frame shown)."""

    def __init__(self, path: Path, grey: bool = False):
        import av
        import decord

        self.path, self.grey = path, grey
        self._sideways: PyAVVideo | None = None
        try:
            if display_rotation(path) in (90, 270):
                self._sideways = PyAVVideo(path, grey)  # it counts the packets itself
                self.n_frames = self._sideways.n_frames
                return
            self.n_frames = video_packets(path).n_frames
            self._reader = decord.VideoReader(str(path), num_threads=1)
        except (av.error.FFmpegError, ValueError, decord.DECORDError) as error:
            raise DecodeError(path, f"cannot open video ({type(error).__name__}: {error})") from None

    def read(self, numbers: Sequence[int]) -> list[np.ndarray]:
        import decord

        if self._sideways is not None:
            return self._sideways.read(numbers)
        if any(not 0 <= n < self.n_frames for n in numbers):
            raise past_end(self.path, numbers, self.n_frames)
        try:
            frames = list(self._reader.get_batch(list(numbers)).asnumpy())
        except decord.DECORDError as error:
            raise DecodeError(self.path, f"cannot decode frames {list(numbers)} ({type(error).__name__})") from None
        return grey_frames(frames) if self.grey else frames
