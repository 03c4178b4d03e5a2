"""Faults outside the data: a Dask worker killed mid-shard, a disk that fills up."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.samples import SampleConfig
from pipeline.shard import StageConfig, run
from pipeline.verify import verify

from .killing import run_killing_a_writer
from .manifests import copy_index_manifests

REPO = Path(__file__).resolve().parent.parent


def config_for(root: Path, manifests: Path, out: Path, workers: int) -> StageConfig:
    # One shard per protocol signature: shards take long enough to be caught half-written.
    return StageConfig(root=root, manifests=manifests, out=out, samples_per_shard=256, workers=workers,
                       sample=SampleConfig(detector="opencv"))


def tars(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


@pytest.mark.slow
def test_worker_killed_while_writing_a_shard_is_retried_to_the_same_result(demo_manifests, tmp_path):
    root, manifests = demo_manifests("cefa")
    reference = config_for(root, copy_index_manifests(manifests, tmp_path / "rm"), tmp_path / "rs", workers=0)
    run(reference)

    config = config_for(root, copy_index_manifests(manifests, tmp_path / "m"), tmp_path / "s", workers=2)
    summary = run_killing_a_writer(config, config.out, ".*.tar.tmp-*")  # a temporary tar beside the shards
    assert summary.failed_shards == []
    assert tars(config.out) == tars(reference.out)  # the lost shard was rewritten, identically
    assert not list(config.out.glob(".*tmp*"))  # the killed worker's temporary file is gone
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    assert samples.equals(pd.read_parquet(reference.manifests / "samples.parquet"))
    assert verify(config.out, config.manifests) == []


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare to mount a small tmpfs in a user namespace")
def test_full_disk_fails_clearly_and_leaves_no_corrupt_shard(demo_manifests, tmp_path):
    """A real ENOSPC: the shard folder is a 1 MiB tmpfs, far smaller than the shards."""
    root, manifests = demo_manifests("cefa")
    manifests = copy_index_manifests(manifests, tmp_path / "m")
    out, kept = tmp_path / "small-disk", tmp_path / "kept"
    out.mkdir()
    kept.mkdir()
    shard = [sys.executable, "-m", "pipeline.shard", "--dataset", "cefa", "--root", str(root), "--manifests",
             str(manifests), "--out", str(out), "--workers", "0", "--quiet"]
    # Inside its own mount namespace the tmpfs vanishes with the process: copy what it left out first.
    script = 'mount -t tmpfs -o size=1m tmpfs "$1" && shift 2 && "$@"; code=$?; cp -a "$OUT/." "$KEPT/"; exit $code'
    env = os.environ | {"OUT": str(out), "KEPT": str(kept), "PYTHONPATH": str(REPO)}
    result = subprocess.run(["unshare", "-Urm", "sh", "-c", script, "sh", str(out), "--", *shard],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "No space left on device while writing shard" in result.stderr
    assert not list(kept.glob(".*tmp*")) and not list((kept / "_parts").glob(".*tmp*"))
    # Whatever did fit is complete: every tar left under its final name verifies against its part.
    shards = pd.read_parquet(manifests / "shards.parquet")
    assert len(shards) > 0, "nothing fitted: the test no longer checks a partly written folder"
    assert set(shards["shard"]) == {p.stem for p in kept.glob("*.tar")}
    assert verify(kept, manifests) == []
    rejects = pd.read_parquet(manifests / "rejects.parquet")
    assert "task_failed" in set(rejects["reason"])
    assert not (manifests / "splits.json").exists()  # training cannot start on partial splits


def test_rerun_redoes_a_shard_whose_part_or_tar_was_damaged_and_keeps_foreign_tars(demo_manifests, tmp_path):
    root, manifests = demo_manifests("surf")
    config = config_for(root, copy_index_manifests(manifests, tmp_path / "m"), tmp_path / "s", workers=0)
    config = StageConfig(**{**config.__dict__, "samples_per_shard": 4})
    run(config)
    clean = tars(config.out)
    first, second = sorted(config.out.glob("*.tar"))[:2]
    (config.out / "_parts" / f"{first.stem}.json").write_text('{"plan_digest": ')  # cut mid-write
    second.write_bytes(second.read_bytes()[:2048])  # truncated after it was vouched for
    (config.out / "notes.tar").write_bytes(b"someone else's file")
    summary = run(config)
    assert summary.reused == len(clean) - 2 and summary.failed_shards == []
    assert (config.out / "notes.tar").read_bytes() == b"someone else's file"
    (config.out / "notes.tar").unlink()
    assert tars(config.out) == clean
