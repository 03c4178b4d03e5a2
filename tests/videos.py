"""What a video file holds, read through ffmpeg or OpenCV: for tests of how the demo encodes and the pipeline seeks
and counts."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipeline.demo.video import ffmpeg_executable
from pipeline.video import installed

#: Every video decoder: decord skipped where it is not installed (no wheels for ARM), PyAV never.
needs_decord = pytest.mark.skipif(not installed("decord"), reason="decord is not installed (x86-64 wheels only)")
DECODERS = [pytest.param("pyav", id="pyav"), pytest.param("decord", id="decord", marks=needs_decord)]


def frame_types(path: Path) -> str:
    """Picture types (I, P, B) of a video's frames in decode order, from ffmpeg's showinfo filter."""
    log = subprocess.run([ffmpeg_executable(), "-i", str(path), "-vf", "showinfo", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120).stderr
    return "".join(line.split("type:")[1][0] for line in log.splitlines() if "type:" in line)


def header_frame_count(path: Path) -> int:
    """The frame count the container's header claims, as OpenCV reads it (``CAP_PROP_FRAME_COUNT``)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()
