"""Cross-dataset protocols: each role the union of its datasets' own splits (so of their shards), no video or
subject in two roles, streamed as any dataset's split with each shard's dataset as its domain, and tabulated with
HTER, the oracle HTER at the target's EER, AUC and TPR@FPR=1%."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.cross import Sources, join, load_cross, main as cross_main
from pipeline.errors import UsageError
from pipeline.format.splits import SplitIndex
from pipeline.protocols import SPEC_DIR

OCIM = ("oulu", "casia_fasd", "replay_attack", "msu_mfsd")


@pytest.fixture(scope="module")
def ocim(tiny_shards, tmp_path_factory) -> Path:
    """The four OCIM tiny demos sharded, and manifests/cross written by the command; returns the manifests base."""
    (base,) = {tiny_shards(dataset).manifests.parent for dataset in OCIM}
    assert cross_main(["--manifests", str(base / "{dataset}"), "-q"]) == 0
    return base


def role_videos(base: Path, dataset: str, protocol: str, splits: list[str]) -> set[str]:
    members = pd.read_parquet(base / dataset / "protocols.parquet")
    return set(members[(members["protocol"] == protocol) & members["split"].isin(splits)]["video_id"])


def test_a_role_is_the_union_of_its_datasets_splits(ocim):
    index = SplitIndex.load(ocim / "cross")
    made = sorted(index.document["protocols"])
    assert made == sorted(["oci_m", "omi_c", "ocm_i", "icm_o", "mi_c", "mi_o"])  # no CeFA: not sharded here
    train = index.split("oci_m", "train")
    assert set(train.domains) == {"oulu", "casia_fasd", "replay_attack"}
    expected = {"oulu": role_videos(ocim, "oulu", "all", ["train", "test"]),
                "casia_fasd": role_videos(ocim, "casia_fasd", "grandtest", ["train", "test"]),
                "replay_attack": role_videos(ocim, "replay_attack", "grandtest", ["train", "test"])}
    n_samples = 0
    for url, domain in zip(train.urls, train.domains):
        assert Path(url).parent == ocim.parent / "shards" / domain  # each part read from its dataset's shards
        samples = pd.read_parquet(ocim / domain / "samples.parquet")
        videos = set(samples[samples["shard"] == Path(url).stem]["video_id"])
        assert videos and videos <= expected[domain], url  # by content: only the role's videos
        n_samples += int((samples["shard"] == Path(url).stem).sum())
    assert n_samples == train.n_samples
    covered = {domain: set() for domain in expected}
    for url, domain in zip(train.urls, train.domains):
        samples = pd.read_parquet(ocim / domain / "samples.parquet")
        covered[domain] |= set(samples[samples["shard"] == Path(url).stem]["video_id"])
    assert covered == expected  # and all of them
    samples_of = {domain: pd.read_parquet(ocim / domain / "samples.parquet") for domain in expected}
    videos_of = {domain: pd.read_parquet(ocim / domain / "videos.parquet") for domain in expected}
    for url, domain, n, bonafide in zip(train.urls, train.domains, train.shard_samples, train.shard_bonafide):
        rows = samples_of[domain][samples_of[domain]["shard"] == Path(url).stem]
        labels = videos_of[domain].set_index("video_id").loc[rows["video_id"], "is_bonafide"]
        assert (n, bonafide) == (len(rows), int(labels.sum()))  # what a loader balancing classes reads
    dev = index.split("oci_m", "dev")
    assert set(dev.domains) == {"oulu", "replay_attack"}  # the sources' dev splits; CASIA-FASD has none
    test = index.split("oci_m", "test")
    assert set(test.domains) == {"msu_mfsd"} and test.modalities == ("rgb",)
    report = json.loads((ocim / "cross" / "cross_report.json").read_text())
    assert report["oci_m"]["test"]["msu_mfsd"]["videos"] == len(role_videos(ocim, "msu_mfsd", "grandtest",
                                                                            ["train", "test"]))


def test_a_video_or_subject_in_two_roles_is_refused(ocim, tmp_path):
    document = yaml.safe_load((SPEC_DIR / "cross.yaml").read_text())
    casia = {"dataset": "casia_fasd", "protocol": "grandtest"}
    document["protocols"] = {"leaky": {"modalities": ["rgb"], "splits": {
        "train": [casia | {"splits": ["train"]}], "dev": [casia | {"splits": ["dev"]}],  # dev is train: no dev split
        "test": [{"dataset": "msu_mfsd", "protocol": "grandtest", "splits": ["train", "test"]}]}}}
    (tmp_path / "cross.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(UsageError, match=r"leaky: casia_fasd video '.+' is in both train and dev"):
        join(load_cross(tmp_path / "cross.yaml"), Sources(str(ocim / "{dataset}")))
    document["protocols"]["leaky"]["splits"]["dev"] = [{"dataset": "oulu", "protocol": "3_1", "splits": ["train"]}]
    document["protocols"]["leaky"]["splits"]["train"].append({"dataset": "oulu", "protocol": "3_2",
                                                              "splits": ["train"]})
    (tmp_path / "cross.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(UsageError, match=r"leaky: oulu (video|subject) .+ is in both train and dev"):
        join(load_cross(tmp_path / "cross.yaml"), Sources(str(ocim / "{dataset}")))
    document["protocols"]["leaky"]["modalities"] = ["rgb", "depth"]
    document["protocols"]["leaky"]["splits"]["train"] = [casia | {"splits": ["train"]}]
    (tmp_path / "cross.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(UsageError, match=r"leaky: \w+ \S+ has no depth \(it has rgb\)"):
        join(load_cross(tmp_path / "cross.yaml"), Sources(str(ocim / "{dataset}")))


def test_the_cross_protocols_take_the_field_convention(tmp_path):
    protocols = load_cross()
    for protocol in protocols.values():
        sources = {part.dataset for part in protocol.roles["train"]}
        target = {part.dataset for part in protocol.roles["test"]}
        assert not sources & target and len(target) == 1
        for role, splits in (("train", ("train", "test")), ("test", ("train", "test")), ("dev", ("dev",))):
            assert all(part.splits == splits for part in protocol.roles[role]), (protocol.name, role)
        assert {part.dataset for part in protocol.roles["dev"]} <= sources - {"casia_fasd", "msu_mfsd"}
    assert [protocols[n].title for n in ("oci_m", "omi_c", "ocm_i", "icm_o")] == [
        "O&C&I→M", "O&M&I→C", "O&C&M→I", "I&C&M→O"]


@pytest.mark.slow
def test_o_c_i_to_m_trains_on_three_datasets_and_reports_hter_and_auc(ocim, tmp_path):
    from training.evaluate import main as evaluate_main
    from training.results import main as results_main
    from training.train import main as train_main

    from .commands import REPO

    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["train"] |= dict(manifests=str(ocim / "{dataset}"), shards=str(ocim.parent / "shards" / "{dataset}"),
                              width=4, epochs=1, batch_size=6, epoch_samples=12, num_workers=0, input_size=64,
                              out=str(tmp_path / "models/{run}/seed-{seed}/train/{protocol}"))
    document["evaluate"]["out"] = str(tmp_path / "models/{run}/seed-{seed}/eval/{protocol}")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(document))
    params = ["--params", str(tmp_path / "params.yaml"), "-q"]
    assert train_main(["--run", "cross-oci_m", *params]) == 0
    assert evaluate_main(["--run", "cross-oci_m", *params]) == 0
    metrics = json.loads((tmp_path / "models/cross-oci_m/seed-0/eval/oci_m/metrics.json").read_text())
    scores = pd.read_csv(tmp_path / "models/cross-oci_m/seed-0/eval/oci_m/scores_test.csv")
    assert set(scores["video_id"]) == role_videos(ocim, "msu_mfsd", "grandtest", ["train", "test"])  # the target
    test = metrics["test"]
    assert test["hter"] == test["acer"] and test["hter_at_target_eer"] == test["own_eer"]
    assert 0 <= test["auc"] <= 1 and "oracle" in metrics["oracle"]
    assert results_main(["--runs", str(tmp_path / "models"), "--out", str(tmp_path / "results"),
                         "--protocols", "cross-oci_m"]) == 0
    row = json.loads((tmp_path / "results" / "results.json").read_text())["cross"]["oci_m"]
    assert row["test"]["auc"]["mean"] == pytest.approx(test["auc"])
    table = (tmp_path / "results" / "results.md").read_text()
    assert "| O&C&I→M | SD-Net (ours) | 1 seed |" in table
    assert "| O&C&I→M | SSDG-R [ssdg] |  |  | 7.38 | 97.17 |  |" in table  # the oracle HTER beside ours
