"""The one exception type for bad input data, so that bad data and bugs never look alike.

A :class:`BadData` error says a file, a frame or an annotation of the user's raw data cannot be used; the
stages turn it into a reject that names the file and the reason, and go on with the other recordings.
Anything else raised while a shard is made (a ``ValueError`` from a bug, a full disk) fails the task,
so it is retried or reported, never filed as a property of the data.
"""
from __future__ import annotations


class BadData(Exception):
    """Input data that cannot be used; ``reason`` is the reject category, ``detail`` names the file and what is
    wrong."""

    reason = "bad_data"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
