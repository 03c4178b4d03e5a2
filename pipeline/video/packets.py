"""What a video container really holds, read by demuxing it with PyAV, without decoding a pixel.

A container's header can overstate its length (a phone's variable-rate MP4, an AVI whose frame count was
written before the recording stopped, a file cut short), and a decoder asked for frames past the real end
fails or, in decord's case, can spin forever. The packets are what the decoder will be fed: one per frame
in the containers the datasets use (AVI, MOV, MP4, MKV), so counting them, at the cost of reading the file
once, gives the number of frames a decoder delivers. Empty packets (an AVI's dropped-frame markers) and
packets the demuxer flags corrupt (a file cut inside a frame) deliver none and are not counted.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DeadlinePassed(Exception):
    """Demuxing or decoding went on past its deadline (``time.monotonic()``)."""


@dataclass(frozen=True)
class VideoPackets:
    """A video stream's frames in presentation order: position n is the n-th frame shown."""

    timestamps: tuple[int, ...]  # each frame's presentation timestamp (the decode timestamp where there is none)
    keyframes: tuple[int, ...]  # positions where decoding can start, ascending

    @property
    def n_frames(self) -> int:
        return len(self.timestamps)

    def keyframe_before(self, position: int) -> int:
        """The last keyframe at or before ``position`` (where decoding must start to deliver it)."""
        earlier = [k for k in self.keyframes if k <= position]
        return earlier[-1] if earlier else 0


def read_packets(container: Any, stream: Any, deadline: float | None = None) -> VideoPackets:
    """Demux every packet of ``stream`` in an open PyAV ``container`` (which is left at its end)."""
    stamps: list[tuple[int, bool]] = []
    for count, packet in enumerate(container.demux(stream)):
        if deadline is not None and count % 64 == 0 and time.monotonic() > deadline:
            raise DeadlinePassed(f"still demuxing after {len(stamps)} frames")
        if packet.size == 0 or packet.is_corrupt:
            continue
        stamp = packet.pts if packet.pts is not None else packet.dts
        stamps.append((len(stamps) if stamp is None else stamp, packet.is_keyframe))
    ordered = sorted(range(len(stamps)), key=lambda i: stamps[i][0])
    return VideoPackets(timestamps=tuple(stamps[i][0] for i in ordered),
                        keyframes=tuple(position for position, i in enumerate(ordered) if stamps[i][1]))


def video_packets(path: Path, deadline: float | None = None) -> VideoPackets:
    """The packets of the first video stream of ``path``; raises PyAV's errors (``av.error.FFmpegError``)
    when the file is not a container, and ``ValueError`` when it holds no video stream."""
    import av  # lazy: only video datasets need it

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        return read_packets(container, container.streams.video[0], deadline)
