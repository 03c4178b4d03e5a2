"""Dataset adapters: one module per dataset that turns a raw tree into validated :class:`Recording` s.

Each adapter module provides ``NAME``, ``MODALITIES``, ``scan(root) -> Scan`` and
``read_lists(lists_dir) -> list[ListEntry]``. Nothing downstream of the manifests knows which
dataset it is handling. Adapters are imported when first asked for, so code that needs only the
record schema (``pipeline.datasets.records``) does not pay for all of them.
"""
from __future__ import annotations

import importlib
from types import ModuleType

#: The registered datasets, each the name of its adapter module in this package.
DATASETS = ("cefa", "surf", "oulu", "siw", "casia_fasd", "replay_attack", "msu_mfsd")


def get_adapter(name: str) -> ModuleType:
    """The adapter module registered as ``name``; a clear error lists the known names."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")
    return importlib.import_module(f"{__name__}.{name}")


__all__ = ["DATASETS", "get_adapter"]
