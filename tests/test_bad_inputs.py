"""The bad-input corpus (tests/bad_inputs.py) through index and shard: nothing lost, every fault named."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.index import build_index, main as index_main, write_index
from pipeline.samples import SampleConfig
from pipeline.shard import StageConfig, main as shard_main, run

from .bad_inputs import CORPUS, damage_tree, matches
from .videos import header_frame_count

DATASETS = sorted({entry.dataset for entry in CORPUS})


@pytest.fixture(scope="module")
def damaged(demo_root, demo_manifests, tmp_path_factory):
    """``damaged(dataset)`` → the outcome of index + shard on a damaged copy of the tiny demo tree."""
    made = {}

    def build(dataset: str) -> dict:
        if dataset not in made:
            source, manifests = demo_manifests(dataset)
            work = tmp_path_factory.mktemp(f"bad_{dataset}")
            root = work / "raw tree with spaces"  # a path with spaces must work end to end
            victims = damage_tree(dataset, source, root, pd.read_parquet(manifests / "videos.parquet"),
                                  pd.read_parquet(manifests / "protocols.parquet"))
            result = build_index(dataset, root)
            assert result.violations == [], result.violations
            write_index(result, work / "manifests", dataset, ["test"])
            config = StageConfig(root=root, manifests=work / "manifests", out=work / "shards", samples_per_shard=8,
                                 workers=0, sample=SampleConfig(detector="opencv"))
            summary = run(config)
            m = config.manifests
            made[dataset] = {
                "root": root, "victims": victims, "summary": summary,
                "undamaged": pd.read_parquet(manifests / "videos.parquet"),
                "report": json.loads((m / "index_report.json").read_text()),
                "videos": pd.read_parquet(m / "videos.parquet"),
                "protocols": pd.read_parquet(m / "protocols.parquet"),
                "samples": pd.read_parquet(m / "samples.parquet"),
                "rejects": pd.read_parquet(m / "rejects.parquet"),
                "shards": pd.read_parquet(m / "shards.parquet"),
            }
        return made[dataset]

    return build


@pytest.mark.parametrize("entry", CORPUS, ids=[entry.name for entry in CORPUS])
def test_each_bad_input_is_reported_with_a_precise_reason(damaged, entry):
    outcome = damaged(entry.dataset)
    victim = outcome["victims"][entry.name]
    if entry.where in ("index", "index_note"):
        listed = outcome["report"]["problems" if entry.where == "index" else "notes"]
        found = [p for p in listed if victim.split("_")[-1] in p["path"] and p["reason"] == entry.reason]
        assert found, f"{entry.name}: no {entry.reason} entry for {victim} in {listed}"
        assert any(matches(entry.detail, p["detail"]) for p in found), found
        if entry.where == "index":
            assert entry.name == "duplicate_id" or victim not in set(outcome["videos"]["video_id"])
        else:  # kept: a detector found its faces
            rows = outcome["samples"][outcome["samples"]["video_id"] == victim]
            assert len(rows) > 0 and set(rows["crop_method"]) == {"opencv"}
    elif entry.where == "videos":  # kept: the lost frame number is named, and no window reads it
        row = outcome["videos"].set_index("video_id").loc[victim]
        lost = set(int(n) for n in row[entry.reason])
        assert lost, f"{entry.name}: {entry.reason} of {victim} is empty"
        windows = outcome["samples"][outcome["samples"]["video_id"] == victim]["frames"]
        assert len(windows) > 0 and not any(lost & set(int(n) for n in frames) for frames in windows)
    elif entry.where == "counted":  # kept: its windows lie within the frames the file holds, none rejected
        row, before = (table.set_index("video_id").loc[victim] for table in (outcome["videos"], outcome["undamaged"]))
        held = row[entry.reason]
        assert held == before[entry.reason] - entry.frames_cut < header_frame_count(outcome["root"] / row["path_rgb"])
        windows = outcome["samples"][outcome["samples"]["video_id"] == victim]["frames"]
        assert len(windows) > 0 and max(max(frames) for frames in windows) < held
        assert victim not in set(outcome["rejects"]["video_id"])
    elif entry.where == "rejects":
        rows = outcome["rejects"][outcome["rejects"]["video_id"] == victim]
        assert set(rows["reason"]) == {entry.reason}, rows
        assert all(matches(entry.detail, detail) for detail in rows["detail"]), list(rows["detail"])
    else:
        rows = outcome["samples"][outcome["samples"]["video_id"] == victim]
        assert len(rows) > 0, f"{entry.name}: {victim} has no samples"
        flags = rows[entry.reason]
        if entry.detail:
            assert all(matches(entry.detail, flag) for flag in flags), list(flags)
            assert set(rows["crop_method"]) == {"opencv"}  # the annotation was not used
        else:
            assert flags.all()


@pytest.mark.parametrize("dataset", DATASETS)
def test_good_recordings_are_all_sharded_and_the_counts_add_up(damaged, dataset):
    outcome = damaged(dataset)
    videos, samples, rejects = outcome["videos"], outcome["samples"], outcome["rejects"]
    victims = set(outcome["victims"].values())
    # Nothing lost: every indexed recording is in the shards or in the rejects.
    assert set(videos["video_id"]) == set(samples["video_id"]) | set(rejects["video_id"])
    # Every good recording keeps all its windows: no reject row names one.
    assert set(rejects["video_id"]) <= victims, set(rejects["video_id"]) - victims
    assert samples["annotation_issue"].isna()[~samples["video_id"].isin(victims)].all()
    # Summary, manifests and shards agree.
    summary = outcome["summary"]
    assert summary.samples == len(samples) == int(outcome["shards"]["n_samples"].sum())
    assert summary.shards == len(outcome["shards"]) and summary.failed_shards == []
    assert summary.rejects_by_reason == rejects["reason"].value_counts().to_dict()
    assert summary.rejected_recordings == len(set(rejects["video_id"]) - set(samples["video_id"]))
    assert outcome["report"]["recordings"] == len(videos)


def test_strict_exits_1_but_writes_every_good_shard(damaged, tmp_path):
    outcome = damaged("cefa")
    root = outcome["root"]
    assert index_main(["--dataset", "cefa", "--root", str(root), "--out", str(tmp_path / "m"), "--strict"]) == 1
    assert (tmp_path / "m" / "videos.parquet").is_file()  # strict fails the run, it does not hide the output
    code = shard_main(["--dataset", "cefa", "--root", str(root), "--manifests", str(tmp_path / "m"),
                       "--out", str(tmp_path / "s"), "--workers", "0", "--strict"])
    assert code == 1
    assert len(pd.read_parquet(tmp_path / "m" / "samples.parquet")) == len(outcome["samples"])
