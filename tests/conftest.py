"""Shared fixtures: tiny demo trees and their manifests, built once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.index import build_index, write_index

from .manifests import copy_index_manifests


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    """``demo_root(dataset)`` → (raw root, generated recordings) of a tiny demo tree (cached)."""
    from pipeline.demo import generate

    made: dict[str, tuple[Path, list]] = {}

    def build(dataset: str) -> tuple[Path, list]:
        if dataset not in made:
            root = tmp_path_factory.mktemp(f"demo_{dataset}")
            made[dataset] = (root, generate(dataset, root, seed=0, size="tiny"))
        return made[dataset]

    return build


@pytest.fixture(scope="session")
def demo_manifests(demo_root, tmp_path_factory):
    """``demo_manifests(dataset)`` → (raw root, manifest folder) with videos and protocols written."""
    made: dict[str, tuple[Path, Path]] = {}

    def build(dataset: str) -> tuple[Path, Path]:
        if dataset not in made:
            root, _ = demo_root(dataset)
            out = tmp_path_factory.mktemp(f"manifests_{dataset}")
            result = build_index(dataset, root)
            assert result.violations == [], result.violations
            write_index(result, out, dataset, ["test"])
            made[dataset] = (root, out)
        return made[dataset]

    return build


@pytest.fixture(scope="session")
def cefa_shards(demo_manifests, tmp_path_factory):
    """Shards of the tiny CeFA demo (4 samples per shard, so splits span several shards)."""
    from pipeline.samples import SampleConfig
    from pipeline.shard import StageConfig, run

    root, manifests = demo_manifests("cefa")
    work = tmp_path_factory.mktemp("cefa_shards")
    config = StageConfig(root=root, manifests=copy_index_manifests(manifests, work / "m"), out=work / "s",
                         samples_per_shard=4, workers=0, sample=SampleConfig(detector="opencv"))
    run(config)
    return config
