"""Protocol definitions: every official protocol is defined, the rule language, and the refusals."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.index import main as index_main
from pipeline.protocols import ProtocolError, apply_spec, check_membership, clause_mask, load_spec
from tests.reference_trees import build_frame_folder_tree

OFFICIAL = {
    "cefa": ["1_1", "1_2", "1_3", "2_1", "2_2", "3_1", "3_2", "3_3", "4_1", "4_2", "4_3", "5"],
    "surf": ["1"],
    "oulu": ["1", "2"] + [f"3_{k}" for k in range(1, 7)] + [f"4_{k}" for k in range(1, 7)] + ["all"],
    "siw": ["1", "2_1", "2_2", "2_3", "2_4", "3_1", "3_2"],
    "casia_fasd": ["grandtest"],
    "replay_attack": ["grandtest", "print", "mobile", "highdef", "photo", "video"],
    "msu_mfsd": ["grandtest"],
}


@pytest.mark.parametrize("dataset", sorted(OFFICIAL))
def test_every_official_protocol_is_defined(dataset):
    spec = load_spec(dataset)
    assert list(spec.protocols) == OFFICIAL[dataset]
    for protocol in spec.protocols.values():
        assert set(protocol.splits) == {"train", "dev", "test"}


def test_aliases_resolve_to_one_canonical_name():
    spec = load_spec("cefa")
    assert {spec.resolve(n) for n in ("4_1", "4@1", "p4.1")} == {"4_1"}
    assert spec.resolve("p1.5") == "1_3"  # the later release numbers by race code: .5 = EA
    with pytest.raises(ProtocolError, match="no protocol or alias '9@9'"):
        spec.resolve("9@9")


def test_split_specific_modalities_and_frame_rules():
    cefa, siw = load_spec("cefa"), load_spec("siw")
    assert cefa.protocols["3_2"].splits["train"].modalities == ("depth",)
    assert cefa.protocols["3_2"].splits["test"].modalities == ("rgb", "ir")
    assert cefa.protocols["4_1"].splits["test"].modalities == ("rgb", "depth", "ir")
    assert siw.protocols["1"].splits["train"].frame_limit == 60
    assert siw.protocols["1"].splits["test"].frame_limit is None


def test_cefa_protocol_5_trains_on_every_ethnicity_and_tests_each_with_the_masks():
    """Bias-ethnicity (WACV 2021): train 000-199 and dev 200-299 of all three ethnicities with print and
    replay; test 300-499 of all three (evaluation reports each ethnicity) plus every mask recording."""
    rows = [(f"{eth}_{sid}_{kind}", eth, sid, kind) for eth in ("AF", "CA", "EA") for sid in (150, 250, 350)
            for kind in ("bonafide", "print", "replay")]
    rows += [("mask_1", None, None, "mask3d"), ("silicone_1", None, None, "silicone")]
    videos = pd.DataFrame(rows, columns=["video_id", "ethnicity", "subject_id", "attack_type"])
    videos = videos.assign(subject=videos["video_id"].str.rsplit("_", n=1).str[0],
                           is_bonafide=videos["attack_type"] == "bonafide")
    spec = load_spec("cefa")
    table = apply_spec(spec, videos)
    p5 = table[table["protocol"] == "5"]
    members = {split: set(group["video_id"]) for split, group in p5.groupby("split")}
    by_id = {sid: {f"{eth}_{sid}_{kind}" for eth in ("AF", "CA", "EA") for kind in ("bonafide", "print", "replay")}
             for sid in (150, 250, 350)}
    assert members == {"train": by_id[150], "dev": by_id[250], "test": by_id[350] | {"mask_1", "silicone_1"}}
    assert all(list(m) == ["rgb", "depth", "ir"] for m in p5["modalities"])
    assert [v for v in check_membership(spec, videos, table) if v.startswith("protocol 5")] == []


def test_clause_conditions():
    videos = pd.DataFrame({"phone": [1, 2, 3, None], "session": [1, 2, 3, 3]})
    assert clause_mask(videos, {"phone": [1, 3]}).tolist() == [True, False, True, False]
    assert clause_mask(videos, {"phone": {"not_in": [1]}, "session": 3}).tolist() == [False, False, True, True]
    assert clause_mask(videos, {"phone": {"between": [2, 3]}}).tolist() == [False, True, True, False]
    assert clause_mask(videos, {"lighting": [1]}).tolist() == [False] * 4  # absent column matches nothing


def _write_spec(folder: Path, body: str) -> Path:
    (folder / "toy.yaml").write_text(body)
    return folder


def test_malformed_spec_is_refused_with_file_and_protocol(tmp_path):
    _write_spec(tmp_path, "dataset: toy\nprotocols:\n  p:\n    splits: {train: {where: [{a: 1}]}}\n")
    with pytest.raises(ProtocolError, match=r"toy.yaml: protocol 'p': needs exactly the splits"):
        load_spec("toy", tmp_path)
    _write_spec(tmp_path, "dataset: toy\nprotocols:\n  p:\n    split: {}\n")
    with pytest.raises(ProtocolError, match="unknown keys"):
        load_spec("toy", tmp_path)
    bad_condition = "{train: {where: [{a: {above: 1}}]}, dev: {where: [{a: 1}]}, test: {where: [{a: 1}]}}"
    _write_spec(tmp_path, f"dataset: toy\nprotocols:\n  p:\n    splits: {bad_condition}\n")
    with pytest.raises(ProtocolError, match="condition on 'a'"):
        load_spec("toy", tmp_path)


def test_a_release_without_a_dev_split_says_so(tmp_path):
    """``dev: {same_as: train}``: dev is the training split, and the protocol records that it holds nothing back."""
    for dataset in ("casia_fasd", "msu_mfsd"):
        grandtest = load_spec(dataset).protocols["grandtest"]
        assert grandtest.same_as == {"dev": "train"} and grandtest.splits["dev"] == grandtest.splits["train"]
        assert ("train", "dev") not in grandtest.disjoint_subjects
    assert load_spec("replay_attack").protocols["grandtest"].same_as == {}  # devel is its own split
    _write_spec(tmp_path, "dataset: toy\ndefaults: {modalities: [rgb]}\nprotocols:\n  p:\n    splits: "
                          "{train: {where: [{a: 1}]}, dev: {same_as: valid}, test: {where: [{a: 2}]}}\n")
    with pytest.raises(ProtocolError, match="split 'dev': same_as 'valid' is not a split with its own rule"):
        load_spec("toy", tmp_path)


def test_shared_subjects_and_one_class_splits_are_violations(tmp_path):
    splits = "{train: {where: [{part: a}]}, dev: {where: [{part: b}]}, test: {where: [{part: c}]}}"
    _write_spec(tmp_path, "dataset: toy\ndefaults: {modalities: [rgb], disjoint_subjects: [[train, test]]}\n"
                          f"protocols:\n  p:\n    splits: {splits}\n")
    spec = load_spec("toy", tmp_path)
    videos = pd.DataFrame(
        {
            "video_id": ["v1", "v2", "v3", "v4", "v5", "v6"],
            "subject": ["s1", "s1", "s2", "s3", "s1", "s4"],
            "is_bonafide": [True, False, True, True, True, False],
            "part": ["a", "a", "b", "b", "c", "c"],
        }
    )
    violations = check_membership(spec, videos, apply_spec(spec, videos))
    assert violations == ["protocol p, split dev: no attack recording",
                          "protocol p: train and test share subjects ['s1']"]


def test_index_refuses_a_tree_whose_protocol_split_lacks_attacks(tmp_path, caplog):
    """Only bona fide recordings: every split is one-class, the index exits 1 and writes no manifest."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "CASIA_CeFA@p4.1_video_train.txt").write_text(
        "CASIA_CeFA/Ethnicity/AF/AF-001/1_001_1_1_1/color 0\nCASIA_CeFA/Ethnicity/AF/AF-250/1_250_1_1_1/color 0\n"
    )
    raw, out = tmp_path / "raw", tmp_path / "manifests"
    raw.mkdir()
    build_frame_folder_tree("lists", raw, tmp_path, base=tmp_path)
    assert index_main(["--dataset", "cefa", "--root", str(raw), "--out", str(out)]) == 1
    report = json.loads((out / "index_report.json").read_text())
    assert "protocol 4_1, split train: no attack recording" in report["violations"]
    assert not (out / "protocols.parquet").exists()
    assert "refused: protocol 4_1, split train: no attack recording" in caplog.text
