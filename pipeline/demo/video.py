"""Demo videos as phones and webcams record them: long-GOP H.264 with B-frames, through ffmpeg.

A decoder must then reconstruct most frames from others (a B-frame from frames before and after it),
which is what makes seeking expensive and frame accuracy worth testing. ffmpeg comes from the
``imageio-ffmpeg`` package (its bundled binary, or the ``ffmpeg`` it finds on the system); frames are
piped to it raw, so no intermediate file is written and no shell is involved.
"""
from __future__ import annotations

import itertools
import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: x264 defaults of a camera-like stream: a keyframe at most every 250 frames, up to 3 B-frames in a row
#: (the superfast preset keeps B-frames; ultrafast would drop them).
GOP, B_FRAMES = 250, 3


def ffmpeg_executable() -> str:
    """The ffmpeg binary: imageio-ffmpeg's (``pip install imageio-ffmpeg``) or the system's."""
    try:
        import imageio_ffmpeg
    except ImportError:
        import shutil

        found = shutil.which("ffmpeg")
        if found is None:
            raise RuntimeError("writing H.264 needs ffmpeg: pip install imageio-ffmpeg (or install ffmpeg)") from None
        return found
    return imageio_ffmpeg.get_ffmpeg_exe()


def write_h264(frames: Iterable[np.ndarray], path: Path, fps: float = 30.0, gop: int = GOP,
               b_frames: int = B_FRAMES, lossless: bool = False, rotation: int = 0) -> int:
    """Encode RGB uint8 frames (all of one size) to ``path``; returns the number of frames written.

    ``lossless`` (x264 qp 0, full-resolution chroma) makes decoded frames equal the input exactly, so
    a test can tell a wrong frame from compression noise; ``gop=1, b_frames=0`` gives an intra-only copy.
    ``rotation``: the display matrix the container gets, in degrees a player turns the frames clockwise
    to show them (a phone's metadata); the frames are stored as given.
    """
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    quality = ["-qp", "0", "-pix_fmt", "yuv444p"] if lossless else ["-crf", "23", "-pix_fmt", "yuv420p"]
    # the display matrix is set on the input and kept through the encoder (-noautorotate: not applied)
    display = ["-noautorotate", "-display_rotation", str(-rotation % 360)] if rotation else []
    command = [ffmpeg_executable(), "-y", "-loglevel", "error", *display, "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-an", "-c:v", "libx264", "-preset", "superfast",
               "-g", str(gop), "-bf", str(b_frames), *quality, str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None  # stdin=PIPE
    count = 0
    try:
        for frame in itertools.chain([first], frames):
            if frame.shape[:2] != (height, width):
                raise ValueError(f"{path}: frame {count} is {frame.shape[1]}x{frame.shape[0]}, not {width}x{height}")
            process.stdin.write(np.ascontiguousarray(frame, np.uint8).tobytes())
            count += 1
    finally:
        _, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg could not write {path}: {errors.decode(errors='replace').strip()}")
    return count
