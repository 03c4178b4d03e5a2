"""The index stage on demo trees: attributes and labels as generated, lists cross-checked, both CeFA releases."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.demo import generate
from pipeline.index import build_index, main as index_main


@pytest.mark.parametrize("dataset", ["cefa", "surf", "oulu", "siw"])
def test_adapter_reads_back_what_the_generator_wrote(demo_root, dataset):
    root, recordings = demo_root(dataset)
    result = build_index(dataset, root)
    assert result.problems == [] and result.violations == []
    videos = result.videos.set_index("video_id")
    assert set(videos.index) == {r.video_id for r in recordings}
    for truth in recordings:
        row = videos.loc[truth.video_id]
        assert (row["subject"], bool(row["is_bonafide"]), row["attack_type"]) == (
            truth.subject, truth.is_bonafide, truth.attack_type), truth.video_id
        for modality, count in truth.n_frames.items():
            assert row[f"n_frames_{modality}"] == count
    if dataset == "oulu":
        assert (videos["face_source"] == "eyes").all() and videos["phone"].dtype.kind in "iu"
    if dataset == "cefa":
        assert set(videos["ethnicity"].dropna()) == {"AF", "CA", "EA"}


@pytest.mark.parametrize(("dataset", "list_name", "bonafide_token"), [
    ("cefa", "CASIA_CeFA@p4.1_video_train.txt", "0"),  # CeFA: 0 = bona fide
    ("siw", "SiW@p1_video_train.txt", "1"),            # SiW: 1 = bona fide
])
def test_list_polarity_ends_up_right(demo_root, dataset, list_name, bonafide_token):
    root, recordings = demo_root(dataset)
    truth = {r.video_id: r.is_bonafide for r in recordings}
    lines = (root / "lists" / list_name).read_text().splitlines()
    from pipeline.datasets import get_adapter

    entries = [e for e in get_adapter(dataset).read_lists(root / "lists") if e.source == list_name]
    assert len(entries) == len(lines) > 0
    for line, entry in zip(lines, entries):
        assert (line.split()[-1] == bonafide_token) == truth[entry.video_id] == entry.is_bonafide


def test_lists_are_cross_checked_and_every_difference_reported(demo_root, tmp_path):
    root, _ = demo_root("cefa")
    assert build_index("cefa", root, lists_dir=root / "lists").list_differences == []
    lists = tmp_path / "lists"
    lists.mkdir()
    train = (root / "lists" / "CASIA_CeFA@p4.1_video_train.txt").read_text().splitlines()
    dropped, flipped = train[0], train[1]
    edited = [flipped.replace(" 0", " X").replace(" 1", " 0").replace(" X", " 1")] + train[2:]
    edited.append("CASIA_CeFA/Ethnicity/AF/AF-150/1_150_1_1_1/color 0")  # not on disk
    (lists / "CASIA_CeFA@p4.1_video_train.txt").write_text("\n".join(edited) + "\n")
    differences = build_index("cefa", root, lists_dir=lists).list_differences
    assert differences == [{
        "protocol": "4_1", "split": "train",
        "missing_on_disk": ["1_150_1_1_1"],
        "only_in_lists": [],
        "only_in_rules": [dropped.split("/")[-2]],
        "label_mismatch": [flipped.split("/")[-2]],
    }]
    used = build_index("cefa", root, lists_dir=lists, use_lists=True).protocols
    assert dropped.split("/")[-2] not in set(used[(used.protocol == "4_1") & (used.split == "train")]["video_id"])


def test_params_use_lists_makes_the_lists_the_membership_of_the_index_stage(demo_root, tmp_path, capsys):
    """``index.use_lists`` (what ``dvc repro`` reads) does what ``--use-lists`` does; ``--no-use-lists`` wins."""
    root, _ = demo_root("cefa")
    lists = tmp_path / "lists"
    lists.mkdir()
    train = (root / "lists" / "CASIA_CeFA@p2.1_video_train.txt").read_text().splitlines()
    attack = next(line for line in train if line.endswith(" 1"))  # CeFA's lists: 1 = attack
    (lists / "CASIA_CeFA@p2.1_video_train.txt").write_text("\n".join(set(train) - {attack}) + "\n")
    dropped = attack.split("/")[-2]

    def train_split(params: str, *flags: str) -> set[str]:
        (tmp_path / "params.yaml").write_text(f"index:\n  lists: {lists}\n{params}")
        out = tmp_path / "manifests"
        assert index_main(["--dataset", "cefa", "--root", str(root), "--out", str(out),
                           "--params", str(tmp_path / "params.yaml"), *flags]) == 0
        protocols = pd.read_parquet(out / "protocols.parquet")
        return set(protocols[(protocols.protocol == "2_1") & (protocols.split == "train")]["video_id"])

    assert dropped in train_split("  use_lists: false\n")
    assert dropped not in train_split("  use_lists: true\n")
    assert dropped in train_split("  use_lists: true\n", "--no-use-lists")

    (tmp_path / "params.yaml").write_text("index:\n  use_lists: yes please\n")
    assert index_main(["--dataset", "cefa", "--root", str(root), "--out", str(tmp_path / "m"),
                       "--params", str(tmp_path / "params.yaml")]) == 2
    (tmp_path / "params.yaml").write_text(f"index:\n  lists: {tmp_path / 'none'}\n  use_lists: true\n")
    assert index_main(["--dataset", "cefa", "--root", str(root), "--out", str(tmp_path / "m"),
                       "--params", str(tmp_path / "params.yaml")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "use_lists" in line]
    assert "'yes please': set it to true or false" in errors[0] and "set index.use_lists: false" in errors[1]


def test_challenge_release_takes_membership_and_labels_from_its_lists(tmp_path):
    recordings = generate("cefa", tmp_path, size="tiny", release="challenge")
    result = build_index("cefa", tmp_path)
    assert result.problems == [] and result.violations == []
    assert set(result.protocols["protocol"]) == {"4_1", "4_2", "4_3"}
    videos = result.videos.set_index("video_id")
    for truth in recordings:
        assert bool(videos.loc[truth.video_id, "is_bonafide"]) == truth.is_bonafide
    anonymised = videos[videos.index.str.startswith(("dev-", "test-"))]
    assert len(anonymised) > 0 and (anonymised["subject"] == anonymised.index).all()
    assert set(anonymised["attack_type"]) == {"bonafide", "unknown"}
    train = result.protocols[(result.protocols.protocol == "4_1") & (result.protocols.split == "train")]
    assert set(videos.loc[train["video_id"], "ethnicity"]) == {"AF"}
    assert set(videos.loc[train["video_id"], "attack_type"]) == {"bonafide", "replay"}


def test_index_cli_writes_manifests_and_report(demo_root, tmp_path):
    root, _ = demo_root("siw")
    assert index_main(["--dataset", "siw", "--root", str(root), "--out", str(tmp_path),
                       "--lists", str(root / "lists")]) == 0
    protocols = pd.read_parquet(tmp_path / "protocols.parquet")
    assert list(protocols.columns) == ["protocol", "split", "video_id", "modalities", "frame_limit"]
    p1_train = protocols[(protocols.protocol == "1") & (protocols.split == "train")]
    assert (p1_train["frame_limit"] == 60).all()
    report = json.loads((tmp_path / "index_report.json").read_text())
    assert (report["recordings"] == len(pd.read_parquet(tmp_path / "videos.parquet"))
            and report["list_differences"] == [])
