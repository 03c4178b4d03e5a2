"""Subject leakage, computed from the manifests the pipeline wrote, for every protocol of every dataset.

The forbidden pairs are written out here, from the papers, not read from ``protocols/*.yaml``: a
protocol file that allowed a shared subject would otherwise pass its own test.
"""
from __future__ import annotations

from itertools import combinations

import pandas as pd
import pytest

from pipeline.protocols import load_spec

from .test_reference_protocols import reference_index  # noqa: F401  (the official lists' trees)

ALL_PAIRS = [("train", "dev"), ("train", "test"), ("dev", "test")]
#: SiW's dev split is the training subjects under the test condition, and CASIA-FASD and MSU-MFSD have no dev
#: split (their dev repeats train): they may share subjects with train, never with test.
NOT_WITH_TEST = [("train", "test"), ("dev", "test")]
FORBIDDEN = {"cefa": ALL_PAIRS, "surf": ALL_PAIRS, "oulu": ALL_PAIRS, "siw": NOT_WITH_TEST,
             "casia_fasd": NOT_WITH_TEST, "replay_attack": ALL_PAIRS, "msu_mfsd": NOT_WITH_TEST}


def shared_subjects(videos: pd.DataFrame, protocols: pd.DataFrame, dataset: str) -> list[str]:
    table = protocols.merge(videos[["video_id", "subject"]], on="video_id", validate="many_to_one")
    leaks = []
    for protocol, rows in table.groupby("protocol"):
        subjects = {split: set(group["subject"]) for split, group in rows.groupby("split")}
        for a, b in FORBIDDEN[dataset]:
            common = subjects.get(a, set()) & subjects.get(b, set())
            if common:
                leaks.append(f"{dataset} {protocol}: {a} and {b} share subjects {sorted(common)[:5]}")
    return leaks


@pytest.mark.parametrize("dataset", sorted(FORBIDDEN))
def test_no_subject_crosses_a_forbidden_split_pair_in_the_demo_manifests(demo_manifests, dataset):
    _, manifests = demo_manifests(dataset)
    videos = pd.read_parquet(manifests / "videos.parquet")
    protocols = pd.read_parquet(manifests / "protocols.parquet")
    assert set(protocols["protocol"]) == set(load_spec(dataset).protocols)  # every protocol is checked
    assert shared_subjects(videos, protocols, dataset) == []


def test_no_subject_crosses_a_forbidden_split_pair_in_the_official_lists(reference_index):  # noqa: F811
    """Trees holding exactly the recordings of the published lists (thousands per dataset)."""
    dataset, _, result, _ = reference_index
    assert shared_subjects(result.videos, result.protocols, dataset) == []


def test_the_leak_check_finds_a_planted_leak(demo_manifests):
    _, manifests = demo_manifests("oulu")
    videos = pd.read_parquet(manifests / "videos.parquet")
    protocols = pd.read_parquet(manifests / "protocols.parquet")
    p1 = protocols[protocols["protocol"] == "1"]
    moved = p1[p1["split"] == "train"].iloc[:1].assign(split="test")  # a training recording put in test
    leaks = shared_subjects(videos, pd.concat([protocols, moved]), "oulu")
    assert len(leaks) == 1 and leaks[0].startswith("oulu 1: train and test share subjects")


def test_siw_dev_shares_with_train_as_the_official_lists_do(demo_manifests):
    """The one allowed overlap is real, so the SiW rule above is not vacuous."""
    _, manifests = demo_manifests("siw")
    videos = pd.read_parquet(manifests / "videos.parquet")
    table = pd.read_parquet(manifests / "protocols.parquet").merge(videos[["video_id", "subject"]], on="video_id")
    p1 = table[table["protocol"] == "1"]
    subjects = {s: set(g["subject"]) for s, g in p1.groupby("split")}
    assert subjects["dev"] & subjects["train"]
    assert all(not (subjects[a] & subjects[b]) for a, b in combinations(["train", "test"], 2))
