"""What every command line shares: ``--quiet`` / ``--verbose``, one log format, progress bars on or off.

Progress bars follow the log level, so library code needs no flag threaded through it: a bar shows
when INFO is logged (the default and ``--verbose``) and is hidden with ``--quiet``.
"""
from __future__ import annotations

import argparse
import logging

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


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
    root.setLevel(level)
    if level < logging.INFO:
        # third-party debug chatter (matplotlib font lookup, PIL plugins, fsspec) would bury ours
        for noisy in ("matplotlib", "PIL", "fsspec", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.INFO)


def progress_enabled() -> bool:
    """Whether long loops should draw a progress bar: only when INFO messages are shown."""
    return logging.getLogger().isEnabledFor(logging.INFO)
