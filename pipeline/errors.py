"""The kinds of trouble that are not bugs: bad input data, shards a run cannot go on with, and a command
called the wrong way.

A :class:`BadData` error says a file, a frame or an annotation of the user's raw data cannot be used; the
stages turn it into a reject that names the file and the reason, and go on with the other recordings.
Anything else raised while a shard is made (a ``ValueError`` from a bug, a full disk) fails the task,
so it is retried or reported, never filed as a property of the data. :class:`BrokenShards` stops a training
or evaluation run whose shards do not read beyond what it tolerates, in one line. A :class:`UsageError` is
the user's mistake (a wrong path, an unknown name, a bad setting), reported in one line before any work starts.
"""
from __future__ import annotations


class BadData(Exception):
    """Input data that cannot be used; ``reason`` is the reject category, ``detail`` names the file and what is
    wrong."""

    reason = "bad_data"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class UsageError(Exception):
    """A mistake in how a command was called or set up (a path, a name, a setting): the command ends with this
    one line and exit status 2, no traceback (``--verbose`` shows it). The message says what to do."""


class BrokenShards(Exception):
    """Shards a run cannot go on with: a corrupt sample where none is tolerated, or too many in a row. The
    command ends with this one line and exit status 1; the message names the shard and says how to check."""
