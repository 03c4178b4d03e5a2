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
def demo_shards(demo_manifests, tmp_path_factory):
    """``demo_shards(dataset)`` → the shard stage's settings of a run on the tiny demo (4 samples per shard, so
    splits span several shards), made once."""
    from pipeline.samples import SampleConfig
    from pipeline.shard import StageConfig, run

    made = {}

    def build(dataset: str):
        if dataset not in made:
            root, manifests = demo_manifests(dataset)
            work = tmp_path_factory.mktemp(f"{dataset}_shards")
            made[dataset] = StageConfig(root=root, manifests=copy_index_manifests(manifests, work / "m"),
                                        out=work / "s", samples_per_shard=4, workers=0,
                                        sample=SampleConfig(detector="opencv"))
            run(made[dataset])
        return made[dataset]

    return build


@pytest.fixture(scope="session")
def cefa_shards(demo_shards):
    """Shards of the tiny CeFA demo (4 samples per shard, so splits span several shards)."""
    return demo_shards("cefa")


@pytest.fixture(scope="session")
def tiny_shards(demo_root, demo_manifests, tmp_path_factory):
    """``tiny_shards(dataset)`` → the ``StageConfig`` of one in-process shard run of the tiny demo (8 samples a
    shard; CASIA-FASD with bob's face files), every dataset's manifests at ``<base>/manifests/<dataset>`` and shards
    at ``<base>/shards/<dataset>``, so that ``<base>/manifests/{dataset}`` names them all."""
    from pipeline.samples import SampleConfig
    from pipeline.shard import StageConfig, run

    base = tmp_path_factory.mktemp("tiny_shards")
    made = {}

    def build(dataset: str):
        if dataset not in made:
            root, _ = demo_root(dataset)
            if dataset == "casia_fasd":
                manifests = base / "index" / dataset
                write_index(build_index(dataset, root, annotations=root / "face-locations"), manifests, dataset, [])
            else:
                _, manifests = demo_manifests(dataset)
            config = StageConfig(root=root, manifests=copy_index_manifests(manifests, base / "manifests" / dataset),
                                 out=base / "shards" / dataset, samples_per_shard=8, workers=0,
                                 sample=SampleConfig(detector="opencv"))
            run(config)
            made[dataset] = config
        return made[dataset]

    return build


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """``ObjectStore`` of a SeaweedFS S3 server on 127.0.0.1 (free ports), for the whole session."""
    from .object_store import seaweedfs

    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The loopback S3 server, with this process's environment (and so its Dask workers' and DataLoader
    workers') set up to reach it the standard way."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture(scope="session")
def cefa_bucket(s3_server, demo_root, tmp_path_factory):
    """The tiny CeFA demo indexed and sharded by the command line into a bucket (manifests and shards), with the
    settings of ``cefa_shards`` (so the two must hold the same bytes): two Dask workers, ``--verbose``, the
    store's secret key in the environment."""
    import os

    from .commands import params_with, run
    from .object_store import BucketShards

    root, _ = demo_root("cefa")
    work = tmp_path_factory.mktemp("cefa_bucket")
    bucket = s3_server.bucket("cefa")
    params = params_with(work, "shard", samples_per_shard=4, detector="opencv", workers=2)
    common = ["--dataset", "cefa", "--root", str(root), "--params", str(params), "--verbose"]
    output = ""
    for command in (["pipeline.index", *common, "--out", f"{bucket}/manifests"],
                    ["pipeline.shard", *common, "--manifests", f"{bucket}/manifests", "--out", f"{bucket}/shards"]):
        done = run(command, cwd=work, timeout=600, env=os.environ | s3_server.env)
        assert done.returncode == 0, done.stderr[-3000:]
        output += done.stdout + done.stderr
    return BucketShards(f"{bucket}/manifests", f"{bucket}/shards", output)
