"""Video containers decoded by a backend chosen by name (``shard.decoder``, ``--decoder``), imported lazily.

* ``pyav`` — PyAV (:mod:`.pyav_reader`): FFmpeg inside its wheels on every platform, Linux x86-64 and
  aarch64, macOS arm64; in the worker's own process, bounded by a deadline checked between packets.
* ``decord`` — decord 0.6 (:mod:`.decord_reader`): wheels for x86-64 only, unmaintained since 2021; a hang
  of its (#373: a header that overstates the length) holds the process for good, so it runs in a child
  process that is killed when a read passes the deadline (:mod:`.child`).
* ``auto`` — the first of :data:`PREFERENCE` that is installed: PyAV, measured faster on the demo's
  Full-HD long-GOP H.264 (``benchmarks/bench_decoders.py``), then decord.

Both give the same frames for the same positions (0 = the first frame shown), upright, one decoder thread.
"""
from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from ..errors import UsageError

DECODERS = ("auto", "pyav", "decord")
PREFERENCE = ("pyav", "decord")
#: backend → the module it imports (what pip installs: ``av`` is PyAV's)
MODULES = {"pyav": "av", "decord": "decord"}
#: Seconds one video may take to open, or to deliver the frames asked for, before its decoder is stopped
#: (``shard.decode_timeout``): ample for a PAD recording (a 30 s Full-HD video decodes in seconds).
DECODE_TIMEOUT = 120.0


def installed(backend: str) -> bool:
    """Whether ``backend``'s package can be imported here (looked up, not imported)."""
    return importlib.util.find_spec(MODULES[backend]) is not None


def resolve_decoder(name: str) -> str:
    """The backend ``name`` stands for here (``auto`` resolved); a mistyped or missing one is a usage error."""
    if name not in DECODERS:
        raise UsageError(f"decoder {name!r}: expected one of {', '.join(DECODERS)}")
    if name == "auto":
        for backend in PREFERENCE:
            if installed(backend):
                return backend
        raise UsageError("no video decoder is installed: pip install av")
    if not installed(name):
        hint = "decord has wheels for x86-64 only; use decoder pyav (or auto)" if name == "decord" else "pip install av"
        raise UsageError(f"decoder {name}: {MODULES[name]} is not installed ({hint})")
    return name


def add_decoder_argument(parser: argparse.ArgumentParser) -> None:
    """``--decoder``, for every command that decodes video."""
    parser.add_argument("--decoder", choices=DECODERS,
                        help="video decoder: pyav (every platform), decord (x86-64 only), or auto (pyav where "
                             "installed, else decord) (default: shard.decoder)")


def open_video(path: Path, grey: bool, decoder: str, timeout: float | None):
    """A reader of ``path`` through ``decoder``: ``n_frames`` (what it delivers) and ``read(positions)``."""
    backend = resolve_decoder(decoder)
    if backend == "pyav":
        from .pyav_reader import PyAVVideo

        return PyAVVideo(path, grey, timeout)
    from .child import IsolatedVideo

    return IsolatedVideo(path, grey, timeout)
