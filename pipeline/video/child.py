"""decord in a child process that is killed when a read takes too long.

A decoder that spins in native code (decord's known hangs, dmlc/decord#373 and #269) cannot be interrupted
from the process it runs in, by a signal handler, an alarm or a thread. So each worker process reads decord's
frames through one child process of its own (started on first use, ``python -m pipeline.video.child``): a
request is a JSON line on the child's stdin; the answer a length-prefixed JSON header (the frames' shapes, or
the error), then the frames' raw bytes. When the answer does not come within the deadline, the child is
killed, the read raises :class:`~pipeline.frames.DecodeTimeout` (a ``decode_timeout`` reject) and the next
read starts a new child. The child exits when its worker does (its stdin closes, or its parent is gone).
"""
from __future__ import annotations

import json
import os
import selectors
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..frames import DecodeError, DecodeTimeout, FramesPastEnd, past_end

HEADER = struct.Struct("<Q")
#: Seconds a new child may take to import decord and say it is ready: not part of any read's time.
STARTUP = 120
ERRORS = {error.reason: error for error in (DecodeError, FramesPastEnd, DecodeTimeout)}


class IsolatedVideo:
    """A video file read through decord in this process's decoder child; frame numbers are positions."""

    def __init__(self, path: Path, grey: bool = False, timeout: float | None = None):
        self.path, self.grey, self.timeout = path, grey, timeout
        header, _ = CHILD.call({"path": str(path), "grey": grey, "numbers": []}, path, timeout)
        self.n_frames = int(header["n_frames"])

    def read(self, numbers: Sequence[int]) -> list[np.ndarray]:
        if any(not 0 <= n < self.n_frames for n in numbers):
            raise past_end(self.path, numbers, self.n_frames)
        _, frames = CHILD.call({"path": str(self.path), "grey": self.grey, "numbers": list(numbers)}, self.path,
                               self.timeout)
        return frames


class DecoderChild:
    """This process's decoder child: started on first use, replaced after it was killed or died."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()  # one request at a time (a worker with several threads shares it)

    def call(self, request: dict[str, Any], path: Path, timeout: float | None) -> tuple[dict, list[np.ndarray]]:
        """The child's answer to ``request``: (header, frames); its error raised as the DecodeError it was."""
        with self._lock:
            try:
                process = self._running()
                deadline = None if timeout is None else time.monotonic() + timeout
                assert process.stdin is not None and process.stdout is not None  # PIPEs
                process.stdin.write(json.dumps(request).encode() + b"\n")
                process.stdin.flush()
                with _Incoming(process.stdout, deadline) as incoming:
                    header = json.loads(incoming.exactly(HEADER.unpack(incoming.exactly(HEADER.size))[0]))
                    frames = [incoming.array(shape) for shape in header.get("shapes", [])]
            except TimeoutError:
                self.stop()
                raise DecodeTimeout(path, f"decord took over {timeout} s (shard.decode_timeout); its process was "
                                          "stopped") from None
            except (OSError, EOFError, ValueError) as error:
                code = self.stop()
                raise DecodeError(path, f"the decord process ended (exit status {code}: {error})") from None
        if "reason" in header:
            raise ERRORS.get(header["reason"], DecodeError)(path, header["detail"])
        return header, frames

    def _running(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            package_root = str(Path(__file__).resolve().parents[2])
            env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                                           os.environ.get("PYTHONPATH")]))}
            self._process = subprocess.Popen([sys.executable, "-m", "pipeline.video.child", str(os.getpid())],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0)
            assert self._process.stdout is not None  # a PIPE
            with _Incoming(self._process.stdout, time.monotonic() + STARTUP) as incoming:
                incoming.exactly(HEADER.size)  # ready
        return self._process

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first video is read through decord)."""
        return None if self._process is None else self._process.pid

    def stop(self) -> int | None:
        """Kill the child (a hung decoder ignores anything gentler); its exit status."""
        process, self._process = self._process, None
        if process is None:
            return None
        process.kill()
        return process.wait()


CHILD = DecoderChild()


class _Incoming:
    """The child's answer, read no longer than the deadline allows."""

    def __init__(self, stream: IO[bytes], deadline: float | None):
        self.stream, self.deadline = stream, deadline
        self.selector = selectors.DefaultSelector()
        self.selector.register(stream, selectors.EVENT_READ)

    def __enter__(self) -> _Incoming:
        return self

    def __exit__(self, *exc: object) -> None:
        self.selector.close()

    def exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        self._fill(memoryview(buffer))
        return bytes(buffer)

    def array(self, shape: list[int]) -> np.ndarray:
        frame = np.empty(shape, np.uint8)
        self._fill(memoryview(frame.reshape(-1).data))
        return frame

    def _fill(self, view: memoryview) -> None:
        filled = 0
        while filled < len(view):
            wait = None if self.deadline is None else self.deadline - time.monotonic()
            if wait is not None and (wait <= 0 or not self.selector.select(wait)):
                raise TimeoutError
            got = self.stream.readinto(view[filled:])  # type: ignore[attr-defined]  # a raw pipe: what is there
            if not got:
                raise EOFError("no answer")
            filled += got


def serve(parent: int) -> None:
    """The child's loop: answer requests from stdin until it closes or the parent is gone."""
    from .decord_reader import DecordVideo

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    answers.write(HEADER.pack(0))  # ready: decord is imported
    answers.flush()
    reader: DecordVideo | None = None
    for line in sys.stdin.buffer:
        request = json.loads(line)
        frames: list[np.ndarray] = []
        try:
            if reader is None or (str(reader.path), reader.grey) != (request["path"], request["grey"]):
                reader = None
                reader = DecordVideo(Path(request["path"]), request["grey"])
            frames = reader.read(request["numbers"]) if request["numbers"] else []
            header: dict[str, Any] = {"n_frames": reader.n_frames, "shapes": [list(f.shape) for f in frames]}
        except DecodeError as error:
            header, frames = {"reason": error.reason, "detail": error.problem}, []
        encoded = json.dumps(header).encode()
        answers.write(HEADER.pack(len(encoded)) + encoded)
        for frame in frames:
            answers.write(np.ascontiguousarray(frame).data)
        answers.flush()


def _exit_with(parent: int) -> None:
    """End this process once its parent has gone (a worker killed mid-read would otherwise leave it spinning)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
