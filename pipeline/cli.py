"""What every command line shares: ``--quiet`` / ``--verbose``, one log format, progress bars on or off.

Progress bars follow the log level, so library code needs no flag threaded through it: a bar shows
when INFO is logged (the default and ``--verbose``) and is hidden with ``--quiet``.
"""
from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from .errors import BrokenShards, UsageError

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
#: Libraries that log at INFO on their own (Dask's scheduler and workers: thirty-odd lines a shard run; the S3
#: client: where it found credentials and the endpoint): shown only with --verbose.
CHATTY = ("distributed", "bokeh", "tornado", "botocore", "aiobotocore", "s3fs")

log = logging.getLogger(__name__)
T = TypeVar("T")


def add_params_argument(parser: argparse.ArgumentParser, reads: str) -> None:
    """``--params FILE``: the params.yaml the command reads ``reads`` from."""
    parser.add_argument("--params", type=Path, help=f"params.yaml to read {reads} from (default: the working "
                                                    "directory's, else the project's)")


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` (warnings and errors only, no progress bars) and ``--verbose`` (debug messages)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors, no progress bars")
    group.add_argument("-v", "--verbose", action="store_true", help="debug messages too")


def log_level(args: argparse.Namespace) -> int:
    if getattr(args, "quiet", False):
        return logging.WARNING
    return logging.DEBUG if getattr(args, "verbose", False) else logging.INFO


def configure_logging(args: argparse.Namespace) -> None:
    """Set the root logger's level from ``--quiet`` / ``--verbose``, and our format unless a host (pytest,
    a notebook) already installed handlers, which are left alone."""
    level = log_level(args)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=LOG_FORMAT)
        # records of loggers with a level of their own reach the handler whatever the root's level: filter there
        root.handlers[0].addFilter(_VERBOSITY)
    _VERBOSITY.level = level
    root.setLevel(level)
    if level < logging.INFO:
        # third-party debug chatter (matplotlib font lookup, PIL plugins, fsspec, every request of an S3 client)
        # would bury ours
        for noisy in ("matplotlib", "PIL", "fsspec", "asyncio", "s3fs", "botocore", "aiobotocore", "urllib3",
                      "aiohttp"):
            logging.getLogger(noisy).setLevel(logging.INFO)


class _Verbosity(logging.Filter):
    """Below ``--verbose``: nothing under the chosen level, and nothing under WARNING from :data:`CHATTY`
    libraries, which set their loggers' levels themselves (Dask, when a LocalCluster starts)."""

    def __init__(self, level: int = logging.INFO):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if self.level < logging.INFO:
            return True
        chatty = record.name.split(".")[0] in CHATTY
        return record.levelno >= (logging.WARNING if chatty else self.level)


_VERBOSITY = _Verbosity()


def progress_enabled() -> bool:
    """Whether long loops should draw a progress bar: only when INFO messages are shown."""
    return logging.getLogger().isEnabledFor(logging.INFO)


def argument_type(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a checker that raises ``ValueError``: its message becomes argparse's one line."""
    def convert(text: str) -> T:
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = getattr(check, "__name__", "value")  # what argparse names in "invalid <name> value"
    return convert


class Main(Protocol):
    """A command's entry point: the arguments (default: ``sys.argv``), and the exit status."""

    def __call__(self, argv: list[str] | None = None) -> int: ...


def command(prog: str) -> Callable[[Main], Main]:
    """Decorator for a command's ``main(argv) -> exit status``: a :class:`UsageError` or a missing file ends it
    with one line, ``<prog>: error: <what is wrong and what to do>``, and status 2; :class:`BrokenShards` with
    its line and status 1; the traceback only with ``--verbose``. Any other exception is a bug and keeps its
    traceback."""
    def decorate(body: Main) -> Main:
        @functools.wraps(body)
        def main(argv: list[str] | None = None) -> int:
            try:
                return body(argv)
            except (UsageError, FileNotFoundError, BrokenShards) as error:
                log.debug("%s failed", prog, exc_info=True)
                print(f"{prog}: error: {_one_line(error)}", file=sys.stderr)
                return 1 if isinstance(error, BrokenShards) else 2
        return main
    return decorate


def _one_line(error: Exception) -> str:
    text = str(error.args[0]) if len(error.args) == 1 else str(error)
    return " ".join(text.split())
