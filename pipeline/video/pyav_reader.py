"""Frames of a video container by position, through PyAV (FFmpeg inside its wheels, on every platform).

The file is demuxed once when opened (:mod:`.packets`): each frame's presentation timestamp and the
keyframes. A read seeks to the keyframe at or before the first frame it needs and decodes forward,
matching decoded frames to positions by timestamp, never by counting (a long-GOP H.264 file with B-frames
delivers frames in another order than it stores them); it seeks again only where a later keyframe lies
before the next frame it needs. One decoder thread: the parallelism is across worker processes.

PyAV does not apply a phone's display rotation by itself: each frame carries it (``VideoFrame.rotation``,
degrees counter-clockwise), and it is applied here, so frames come out upright as decord and OpenCV give
them. Every step checks the deadline between packets: a file can make this reader slow, not hang it.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .packets import DeadlinePassed, VideoPackets, read_packets
from ..frames import DecodeError, DecodeTimeout, grey_frames, past_end


class PyAVVideo:
    """A video file read through PyAV; frame numbers are positions (0 = the first frame shown)."""

    def __init__(self, path: Path, grey: bool = False, timeout: float | None = None):
        import av

        self.path, self.grey, self.timeout = path, grey, timeout
        deadline = self._deadline()
        try:
            self._container = av.open(str(path))
            if not self._container.streams.video:
                raise DecodeError(path, "cannot open video (no video stream)")
            self._stream = self._container.streams.video[0]
            self._stream.codec_context.thread_count = 1
            self._packets: VideoPackets = read_packets(self._container, self._stream, deadline)
        except av.error.FFmpegError as error:
            raise DecodeError(path, f"cannot open video ({type(error).__name__}: {error})") from None
        except DeadlinePassed as error:
            raise DecodeTimeout(path, f"opening took over {timeout} s ({error})") from None
        if self._packets.n_frames == 0:
            raise DecodeError(path, "cannot open video (no frames)")
        self.n_frames = self._packets.n_frames
        self._positions = {stamp: position for position, stamp in enumerate(self._packets.timestamps)}
        self._forget()
        self._deadline_now: float | None = None

    def _forget(self) -> None:
        """No decoder position to go on from: the next frame wanted is sought from its keyframe."""
        self._position = -1
        self._frames: Iterator[tuple[int, Any]] = iter([])

    def read(self, numbers: Sequence[int]) -> list[np.ndarray]:
        """Frames ``numbers`` (any order, repeats allowed) as uint8 RGB ``(H, W, 3)`` or grey ``(H, W)``."""
        import av

        beyond = [n for n in numbers if not 0 <= n < self.n_frames]
        if beyond:
            raise past_end(self.path, numbers, self.n_frames)
        self._deadline_now = self._deadline()
        try:
            found = self._decode(sorted(set(numbers)))
        except av.error.FFmpegError as error:
            self._forget()
            raise DecodeError(self.path, f"cannot decode frames {list(numbers)} ({type(error).__name__})") from None
        except DeadlinePassed as error:
            self._forget()
            raise DecodeTimeout(self.path, f"reading frames {list(numbers)} took over {self.timeout} s "
                                           f"({error})") from None
        frames = [found[n] for n in numbers]
        return grey_frames(frames) if self.grey else frames

    def _decode(self, wanted: list[int]) -> dict[int, np.ndarray]:
        """The frames at ``wanted`` (ascending), decoding on from where the last read stopped when it can."""
        found: dict[int, np.ndarray] = {}
        for target in wanted:
            start = self._packets.keyframe_before(target)
            if target <= self._position or start > self._position:  # behind us, or a keyframe lies before it
                self._frames, self._position = self._frames_from(start), start - 1
            for position, frame in self._frames:
                self._position = position
                if position == target:
                    found[target] = _upright(frame)
                    break
                if position > target:
                    raise DecodeError(self.path, f"frame {target} was not delivered (decoding from keyframe "
                                                 f"{start} went from frame {position - 1} to {position})")
            else:  # the stream ended first: the container holds fewer decodable frames than packets
                raise past_end(self.path, wanted, self._position + 1)
        return found

    def _frames_from(self, keyframe: int) -> Iterator[tuple[int, Any]]:
        """(position, frame) of every frame decoded from ``keyframe`` on, in presentation order. Empty and
        corrupt packets (a file cut inside a frame) are not decoded, as they were not counted."""
        self._container.seek(self._packets.timestamps[keyframe], stream=self._stream, backward=True,
                             any_frame=False)  # seeking also resets the decoder
        codec = self._stream.codec_context
        for packet in self._container.demux(self._stream):
            if self._deadline_now is not None and time.monotonic() > self._deadline_now:
                raise DeadlinePassed(f"still decoding after frame {self._position}")
            if packet.size and not packet.is_corrupt:
                yield from self._placed(codec.decode(packet), keyframe)
        yield from self._placed(codec.decode(None), keyframe)  # the frames the decoder still holds

    def _placed(self, frames: list[Any], keyframe: int) -> Iterator[tuple[int, Any]]:
        for frame in frames:
            stamp = frame.pts if frame.pts is not None else frame.dts
            position = self._positions.get(stamp)
            if position is not None and position >= keyframe:  # not an open GOP's leading frame
                yield position, frame

    def _deadline(self) -> float | None:
        return None if self.timeout is None else time.monotonic() + self.timeout

    def close(self) -> None:
        self._container.close()


def _upright(frame: Any) -> np.ndarray:
    """The frame as RGB, turned as its display matrix says (counter-clockwise degrees, multiples of 90)."""
    # one scaling thread, as one decoder thread: swscale's own thread pool, freed when a frame is collected, hangs a
    # process forked meanwhile (a DataLoader worker collecting the parent's frames waits on the pool's threads)
    image = frame.to_ndarray(format="rgb24", threads=1)
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def display_rotation(path: Path) -> int:
    """The display rotation of ``path``'s video, counter-clockwise degrees in [0, 360): its first frame's."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return 0
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1  # one decoder thread, as every read here
        for frame in container.decode(stream):
            return round(frame.rotation or 0) % 360
    return 0
