"""Shards that changed after they were written: verify names every change, the loader survives them."""
from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import BrokenShards
from pipeline.format.splits import SplitShards
from pipeline.format.tars import read_tar_samples
from pipeline.verify import main as verify_main, verify
from training.data import iterate_eval, loader, train_pipeline

from .commands import assert_refused, on_shards, run
from .tars import tar_members, write_tar


def truncate(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "unreadable tar|samples, shards.parquet says"


def flip_a_byte(path: Path) -> str:
    members = tar_members(path)
    name, data = members[1]
    members[1] = (name, data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    write_tar(path, members)
    return f"sample {name.split('.')[0]} hash differs"


def drop_a_member(path: Path) -> str:
    members = tar_members(path)
    name = members[0][0]
    write_tar(path, members[1:])
    return f"sample {name.split('.')[0]} hash differs"


def add_a_sample(path: Path) -> str:
    members = tar_members(path)
    key = members[0][0].split(".")[0]
    write_tar(path, members + [(name.replace(key, "intruder_w000", 1), data)
                               for name, data in members if name.startswith(key)])
    return "sample intruder_w000 not in samples.parquet"


def remove_a_sample(path: Path) -> str:
    members = tar_members(path)
    key = members[0][0].split(".")[0]
    write_tar(path, [(name, data) for name, data in members if not name.startswith(key + ".")])
    return f"sample {key} in samples.parquet but not in the shard"


def climbing_member(path: Path) -> str:
    members = tar_members(path)
    write_tar(path, members + [("../../escaped.rgb.png", members[0][1]), ("/tmp/absolute.rgb.png", members[0][1])])
    return "unreadable tar .*'../../escaped.rgb.png' is not a flat KEY.EXTENSION name"


DAMAGE = [truncate, flip_a_byte, drop_a_member, add_a_sample, remove_a_sample, climbing_member]


@pytest.fixture
def shard_copy(cefa_shards, tmp_path):
    """A private copy of the tiny CeFA shards, and the tar to damage (the first, which holds 4 samples)."""
    shards = tmp_path / "work" / "shards"
    shutil.copytree(cefa_shards.out, shards)
    assert verify(shards, cefa_shards.manifests) == []
    return shards, sorted(shards.glob("*.tar"))[0]


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__ for d in DAMAGE])
def test_verify_names_the_shard_and_the_change(cefa_shards, shard_copy, damage):
    shards, victim = shard_copy
    expected = damage(victim)
    problems = verify(shards, cefa_shards.manifests)
    assert problems and all(p.startswith(f"{victim.name}: ") for p in problems), problems
    assert any(re.search(expected, p) for p in problems), problems
    assert verify_main(["--shards", str(shards), "--manifests", str(cefa_shards.manifests), "--quiet"]) == 1
    assert not (shards.parent / "escaped.rgb.png").exists() and not Path("/tmp/absolute.rgb.png").exists()


def corrupt_one_image(path: Path) -> str:
    members = tar_members(path)
    name = next(n for n, _ in members if ".rgb_di." in n)
    write_tar(path, [(n, b"not an image" if n == name else d) for n, d in members])
    return name.split(".")[0]


def corrupt_every_rgb_image(shards: Path) -> None:
    for tar in shards.glob("*.tar"):
        write_tar(tar, [(n, b"not an image" if ".rgb." in n else d) for n, d in tar_members(tar)])


def split_of(shards: Path) -> SplitShards:
    tars = sorted(shards.glob("*.tar"))
    return SplitShards("p", "test", [str(t) for t in tars], sum(len(read_tar_samples(t)) for t in tars))


@pytest.mark.parametrize("workers", [0, 1])
def test_loader_skips_a_corrupt_sample_and_counts_it(shard_copy, workers, caplog):
    shards, victim = shard_copy
    split = split_of(shards)
    bad_key = corrupt_one_image(victim)
    batches = list(iterate_eval(split, ["rgb", "depth", "ir"], 3, workers))
    keys = [k for b in batches for k in b["key"]]
    assert bad_key not in keys and len(keys) == len(set(keys)) == split.n_samples - 1
    assert sum(b["skipped"] for b in batches) == 1
    if workers == 0:
        assert any(bad_key in r.getMessage() and victim.name in r.getMessage() for r in caplog.records)


def test_loader_fails_fast_when_asked(shard_copy):
    shards, victim = shard_copy
    split = split_of(shards)
    bad_key = corrupt_one_image(victim)
    with pytest.raises(BrokenShards, match=f"{re.escape(victim.name)}: sample {bad_key}"):
        list(iterate_eval(split, ["rgb"], 3, 0, fail_fast=True))


def test_a_split_whose_samples_all_fail_stops_training_instead_of_spinning(shard_copy):
    """Skipping has a budget: every image corrupt, the resampled stream would skip forever; it stops with a
    message after MAX_CONSECUTIVE_CORRUPT corrupt samples in a row."""
    from training.data import MAX_CONSECUTIVE_CORRUPT

    shards, _ = shard_copy
    corrupt_every_rgb_image(shards)
    pipeline = train_pipeline(split_of(shards), ["rgb"], batch_size=4, epoch_samples=40, seed=3)
    with pytest.raises(BrokenShards, match=rf"{MAX_CONSECUTIVE_CORRUPT + 1} corrupt samples in a row.*pipeline.verify"):
        list(loader(pipeline, 0))


def test_broken_shards_stop_a_training_run_with_one_line_from_a_worker(cefa_shards, shard_copy, tmp_path):
    """As a user meets it: the stop raised in a DataLoader worker reaches the shell as its one line, exit 1."""
    shards, _ = shard_copy
    corrupt_every_rgb_image(shards)
    broken = replace(cefa_shards, out=shards)
    done = run(on_shards("training.train", broken, "--protocol", "4@1", "--out", str(tmp_path / "model"), "--epochs",
                         "1", "--num-workers", "1", "--width", "4", "--batch-size", "4"))
    assert done.returncode == 1
    assert_refused(done, "corrupt samples in a row", "check them with python -m pipeline.verify")


def test_a_missing_shard_or_a_bug_is_raised_at_once_not_skipped(shard_copy, monkeypatch):
    from training.data import SampleDecoder

    shards, victim = shard_copy
    split = split_of(shards)
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(victim.name)):
        list(loader(train_pipeline(split, ["rgb"], batch_size=4, epoch_samples=40, seed=3), 0))
    monkeypatch.setattr(SampleDecoder, "decode", lambda self, sample: None + 1)  # a TypeError of our own code
    with pytest.raises(TypeError):
        list(iterate_eval(SplitShards("p", "test", split.urls[1:], 1), ["rgb"], 3, 0))


def test_training_stream_survives_a_truncated_tar(shard_copy):
    shards, victim = shard_copy
    split = split_of(shards)
    truncate(victim)
    pipeline = train_pipeline(split, ["rgb"], batch_size=4, epoch_samples=40, seed=3)
    batches = list(loader(pipeline, 0))
    assert len(batches) == 10 and sum(b["skipped"] for b in batches) >= 1


def test_splits_json_cannot_point_outside_the_shard_folder(cefa_shards, tmp_path):
    import json

    from training.data import split_shards

    index = json.loads((cefa_shards.manifests / "splits.json").read_text())
    name = next(iter(index["splits"]))
    index["splits"][name]["shards"] = ["../../../etc/passwd"]
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "splits.json").write_text(json.dumps(index))
    protocol, split = name.split("/")
    with pytest.raises(ValueError, match="not a .tar file name"):
        split_shards(manifests, protocol, split)


def test_manifest_paths_outside_the_raw_root_are_rejected_not_read(demo_manifests, tmp_path):
    from pipeline.samples import SampleConfig
    from pipeline.shard import StageConfig, run

    root, manifests = demo_manifests("surf")
    (tmp_path / "m").mkdir()
    videos = pd.read_parquet(manifests / "videos.parquet")
    victim, other = videos["video_id"].iloc[0], videos["video_id"].iloc[1]
    videos.loc[videos["video_id"] == victim, "path_depth"] = "../../../etc"
    videos.loc[videos["video_id"] == other, "path_ir"] = "/etc"
    videos.to_parquet(tmp_path / "m" / "videos.parquet")
    shutil.copy(manifests / "protocols.parquet", tmp_path / "m")
    config = StageConfig(root=root, manifests=tmp_path / "m", out=tmp_path / "s", workers=0,
                         sample=SampleConfig(detector="opencv"))
    run(config)
    rejects = pd.read_parquet(tmp_path / "m" / "rejects.parquet")
    unsafe = rejects[rejects["reason"] == "unsafe_path"]
    assert set(unsafe["video_id"]) == {victim, other}
    assert "'../../../etc'" in unsafe["detail"].iloc[0] or "'../../../etc'" in unsafe["detail"].iloc[1]
