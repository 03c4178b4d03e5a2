"""Dataset adapters: one module per dataset that turns a raw tree into validated :class:`Recording` s.

Each adapter module provides ``NAME``, ``MODALITIES``, ``scan(root) -> Scan`` and
``read_lists(lists_dir) -> list[ListEntry]``. Nothing downstream of the manifests knows which
dataset it is handling.
"""
from __future__ import annotations

from types import ModuleType

from . import cefa, oulu, siw, surf
from .records import MODALITIES, ListEntry, Problem, Recording, Scan

ADAPTERS: dict[str, ModuleType] = {module.NAME: module for module in (cefa, surf, oulu, siw)}


def get_adapter(name: str) -> ModuleType:
    """The adapter module registered as ``name``; a clear error lists the known names."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(ADAPTERS)}") from None


__all__ = ["ADAPTERS", "MODALITIES", "ListEntry", "Problem", "Recording", "Scan", "get_adapter"]
