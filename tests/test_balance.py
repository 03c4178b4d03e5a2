"""Training on several datasets: every sample carries its domain, and balanced batches hold the same number of
samples of each (domain, class) group, read by content from tiny shards of CeFA, CASIA-SURF and OULU-NPU."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import UsageError
from pipeline.format.splits import SplitIndex, SplitShards
from pipeline.format.tars import read_tar_samples
from training.balance import balance_plan
from training.data import iterate_eval, loader, split_shards, train_pipeline
from training.tar_stream import Selection

from .commands import assert_refused, params_with, run
from .tars import tar_members, write_tar

#: The tiny demos' protocol splits a "sources" protocol is made of, as a cross-dataset protocol names them.
SOURCES = {"train": [("cefa", "4_1"), ("surf", "1"), ("oulu", "1")], "dev": [("cefa", "4_1"), ("surf", "1")]}


def cross_index(folder: Path, configs: dict, shard_dirs: dict | None = None) -> Path:
    """A ``splits.json`` whose splits are unions of the demos' protocol splits (:data:`SOURCES`), one part per
    dataset with its shards and their counts (the cross-dataset protocols' layout), modalities the ones every
    dataset has; ``shard_dirs`` replaces a dataset's shard folder (and the counts, by reading its tars)."""
    splits = {}
    for split, parts in SOURCES.items():
        entries = [(dataset, json.loads((configs[dataset].manifests / "splits.json").read_text())["splits"]
                    [f"{protocol}/{split}"]) for dataset, protocol in parts]
        splits[f"sources/{split}"] = {
            "parts": [part(d, configs[d].out, e, (shard_dirs or {}).get(d)) for d, e in entries],
            "n_samples": sum(e["n_samples"] for _, e in entries), "modalities": ["rgb"]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "splits.json").write_text(json.dumps({"dataset": "cross", "crop_size": 128, "shard_dir": "",
                                                    "protocols": {"sources": {"aliases": []}}, "splits": splits}))
    return folder


def part(dataset: str, shard_dir: Path, entry: dict, replaced: Path | None) -> dict:
    counts = {key: entry[key] for key in ("shard_samples", "shard_bonafide")}
    if replaced is not None:
        samples = [read_tar_samples(replaced / shard) for shard in entry["shards"]]
        counts = {"shard_samples": [len(s) for s in samples],
                  "shard_bonafide": [sum(json.loads(m["json"])["is_bonafide"] for m in s.values()) for s in samples]}
    return {"dataset": dataset, "shard_dir": str(replaced or shard_dir), "shards": entry["shards"], **counts}


@pytest.fixture(scope="session")
def configs(demo_shards):
    return {dataset: demo_shards(dataset) for dataset in ("cefa", "surf", "oulu")}


@pytest.fixture(scope="session")
def sources(configs, tmp_path_factory) -> SplitIndex:
    return SplitIndex.load(cross_index(tmp_path_factory.mktemp("cross"), configs))


@pytest.fixture(scope="session")
def truth(configs) -> dict[str, pd.DataFrame]:
    """dataset → every sample key of its shards with its recording's label, from the manifests."""
    found = {}
    for dataset, config in configs.items():
        samples = pd.read_parquet(config.manifests / "samples.parquet")
        videos = pd.read_parquet(config.manifests / "videos.parquet")[["video_id", "is_bonafide"]]
        found[dataset] = samples.merge(videos, on="video_id").set_index("key")
    return found


def checked_groups(batch: dict, truth: dict[str, pd.DataFrame]) -> list[tuple[str, bool]]:
    """Each sample's (domain, bona fide), after checking that its key is a sample of that domain's shards and its
    label is its recording's."""
    groups = []
    for key, domain, label in zip(batch["key"], batch["domain"], batch["label"].tolist()):
        assert key in truth[domain].index, (key, domain)
        assert bool(label) == bool(truth[domain].loc[key, "is_bonafide"]), key
        groups.append((domain, bool(label)))
    return groups


def runs(groups: list[tuple[str, bool]]) -> list[tuple[tuple[str, bool], int]]:
    """Consecutive equal groups as (group, count): a balanced batch comes group by group."""
    found: list[tuple[tuple[str, bool], int]] = []
    for group in groups:
        if found and found[-1][0] == group:
            found[-1] = (group, found[-1][1] + 1)
        else:
            found.append((group, 1))
    return found


#: 3 domains x 2 classes = 6 groups; a batch of 8 holds 1 of each and 2 more, given in turn to groups 1-2, 3-4,
#: 5-6: every group gets 4 samples in every 3 batches.
BATCH_OF_8 = [[2, 2, 1, 1, 1, 1], [1, 1, 2, 2, 1, 1], [1, 1, 1, 1, 2, 2]]
GROUPS = [(d, c) for d in ("cefa", "surf", "oulu") for c in (True, False)]


@pytest.mark.parametrize("workers", [0, 2])
def test_balanced_batches_hold_the_rules_count_of_every_domain_and_class(sources, truth, workers):
    shards = sources.split("sources", "train")
    assert shards.by_domain().keys() == {"cefa", "surf", "oulu"} and shards.modalities == ("rgb",)
    pipeline = train_pipeline(shards, ["rgb"], batch_size=8, epoch_samples=96, seed=5, num_workers=workers,
                              shuffle_buffer=60)
    batches = list(loader(pipeline, workers))
    assert len(batches) == 12
    for number, batch in enumerate(batches):
        local = number // max(1, workers)  # the DataLoader takes batches from its workers in turn
        expected = [(group, count) for group, count in zip(GROUPS, BATCH_OF_8[local % 3])]
        assert runs(checked_groups(batch, truth)) == expected, number
    oulu = [key for batch in batches for key, domain in zip(batch["key"], batch["domain"]) if domain == "oulu"]
    assert len(set(oulu)) > len(oulu) / 2  # shuffled buffers, not the same few samples again and again
    again = list(loader(train_pipeline(shards, ["rgb"], batch_size=8, epoch_samples=96, seed=5, num_workers=workers,
                                       shuffle_buffer=60), workers))
    assert [b["key"] for b in again] == [b["key"] for b in batches]  # deterministic per (seed, worker)
    assert all((a["rgb"] == b["rgb"]).all() for a, b in zip(again, batches))
    other = list(loader(train_pipeline(shards, ["rgb"], batch_size=8, epoch_samples=96, seed=6, num_workers=workers,
                                       shuffle_buffer=60), workers))
    assert [b["key"] for b in other] != [b["key"] for b in batches]  # the next epoch's seed: another stream


def test_only_the_samples_a_batch_takes_are_decoded(sources, monkeypatch):
    from training.data import SampleDecoder

    decoded, decode = [], SampleDecoder.decode
    monkeypatch.setattr(SampleDecoder, "decode", lambda self, sample: decoded.append(sample["__key__"]) or
                        decode(self, sample))
    batches = list(loader(train_pipeline(sources.split("sources", "train"), ["rgb"], batch_size=8, epoch_samples=48,
                                         seed=2), 0))
    taken = [key for batch in batches for key in batch["key"]]
    assert decoded[:len(taken)] == taken and len(decoded) == len(taken) + 1  # + WebDataset's batcher reads one ahead


def test_a_refused_sample_is_dropped_in_the_reader_and_its_later_members_are_not_wanted():
    """Members come in name order: depth before the JSON is held until it says, rgb after it is never read."""
    selection = Selection(lambda metadata: json.loads(metadata)["is_bonafide"])
    members = [("a.depth.npy", b"1"), ("a.json", b'{"is_bonafide": false}'), ("a.rgb.npy", b""),
               ("b.depth.npy", b"2"), ("b.json", b'{"is_bonafide": true}'), ("b.rgb.npy", b"3"),
               ("c.rgb.npy", b"4")]  # no JSON: goes on, for the decoder to call corrupt
    kept = []
    for member in selection.members(iter(members)):
        kept.append(member)
        assert selection.wanted("a.rgb.npy") is False and selection.wanted("b.rgb.npy") is True
    assert kept == members[3:]


def test_a_multiple_of_the_groups_gives_equal_batches_and_balance_none_one_stream(sources, truth):
    shards = sources.split("sources", "train")
    batches = list(loader(train_pipeline(shards, ["rgb"], batch_size=12, epoch_samples=36, seed=1,
                                         balance="domains_and_classes"), 0))
    assert all(runs(checked_groups(b, truth)) == [(group, 2) for group in GROUPS] for b in batches)
    mixed = list(loader(train_pipeline(shards, ["rgb"], batch_size=12, epoch_samples=120, seed=1, balance="none"), 0))
    groups = Counter(g for b in mixed for g in checked_groups(b, truth))
    assert groups[("oulu", False)] > 4 * groups[("cefa", True)]  # none: as the shards hold them, OULU-NPU's attacks


def test_a_single_dataset_split_streams_as_before_and_every_sample_names_its_dataset(cefa_shards):
    shards = split_shards(cefa_shards.manifests, "4_1", "train", cefa_shards.out)
    assert set(shards.domains) == {"cefa"}
    made = {balance: list(loader(train_pipeline(shards, ["rgb", "depth"], batch_size=4, epoch_samples=20, seed=1,
                                                balance=balance), 0)) for balance in ("auto", "none")}
    assert [b["key"] for b in made["auto"]] == [b["key"] for b in made["none"]]
    assert all((a["rgb"] == b["rgb"]).all() and (a["depth_di"] == b["depth_di"]).all()
               for a, b in zip(made["auto"], made["none"]))
    assert {d for b in made["auto"] for d in b["domain"]} == {"cefa"}
    balanced = list(loader(train_pipeline(shards, ["rgb"], batch_size=4, epoch_samples=20, seed=1,
                                          balance="domains_and_classes"), 0))
    assert all(b["label"].tolist() == [1.0, 1.0, 0.0, 0.0] for b in balanced)  # one domain: its two classes


@pytest.mark.parametrize("workers", [0, 2])
def test_evaluation_reads_every_sample_once_with_its_dataset(sources, truth, cefa_shards, workers):
    dev = sources.split("sources", "dev")
    batches = list(iterate_eval(dev, ["rgb"], 5, workers))
    keys = [key for batch in batches for key in batch["key"]]
    assert len(keys) == len(set(keys)) == dev.n_samples
    in_shards = {domain: int(truth[domain]["shard"].isin([Path(url).stem for url in urls]).sum())
                 for domain, urls in dev.by_domain().items()}
    assert Counter(domain for b in batches for domain, _ in checked_groups(b, truth)) == in_shards
    assert in_shards.keys() == {"cefa", "surf"}
    test = split_shards(cefa_shards.manifests, "4_1", "test", cefa_shards.out)
    assert {d for b in iterate_eval(test, ["rgb"], 5, workers) for d in b["domain"]} == {"cefa"}


def test_a_batch_smaller_than_the_groups_is_refused_when_the_run_is_planned(sources):
    shards = sources.split("sources", "train")
    with pytest.raises(UsageError, match=r"train.batch_size = 4 cannot hold one sample of each of the 6 \(domain, "
                                         r"class\) groups of sources/train"):
        balance_plan(shards, "auto", 4)
    assert balance_plan(shards, "none", 4) is None
    assert balance_plan(SplitShards("p", "train", ["a.tar"], 1, domains=("cefa",)), "auto", 1) is None


def attacks_only(config, folder: Path) -> Path:
    """A copy of a shard folder without its bona fide samples."""
    folder.mkdir()
    for tar in sorted(config.out.glob("*.tar")):
        members = tar_members(tar)
        bona_fide = {name.split(".")[0] for name, data in members
                     if name.endswith(".json") and json.loads(data)["is_bonafide"]}
        write_tar(folder / tar.name, [(n, d) for n, d in members if n.split(".")[0] not in bona_fide])
    return folder


def train_on_sources(configs, folder: Path, *args: str, surf: Path | None = None):
    """``python -m training.train`` on the sources, each dataset's shards under ``folder/shards/<dataset>`` (SURF's
    from ``surf`` when given)."""
    shards = folder / "shards"
    shards.mkdir()
    for dataset, config in configs.items():
        (shards / dataset).symlink_to(surf if dataset == "surf" and surf else config.out)
    manifests = cross_index(folder / "m", configs, {"surf": surf} if surf else None)
    return run(["training.train", "--dataset", "cross", "--protocol", "sources", "--manifests", str(manifests),
                "--shards", f"{shards}/{{dataset}}", "--out", str(folder / "model"), *args])


def test_training_on_the_sources_says_what_its_batches_hold(configs, tmp_path):
    params = params_with(tmp_path, "train", epoch_samples=16, input_size=64, width=4, epochs=1, num_workers=1)
    done = train_on_sources(configs, tmp_path, "--batch-size", "8", "--params", str(params))
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("train.balance auto: 3 domains (cefa, surf, oulu) x bona fide / attack: each batch of 8 holds 1 of each "
            "of the 6 (domain, class) groups and 2 more, given to the groups in turn (train.batch_size is not a "
            "multiple of 6): every group gets 4 in every 3 batches") in done.stderr
    assert (tmp_path / "model" / "checkpoint.pt").is_file()


def test_a_domain_without_bona_fide_samples_is_refused_in_one_line_before_training(configs, tmp_path):
    """As a user meets it: sources whose SURF shards hold no bona fide sample (splits.json counts them) stop the
    command with one line naming the domain, before any process starts."""
    done = train_on_sources(configs, tmp_path, "--batch-size", "6", surf=attacks_only(configs["surf"], tmp_path / "s"))
    assert done.returncode == 2
    assert_refused(done, "sources/train: domain surf has no bona fide sample in its 4 shards",
                   "set train.balance: none")
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("workers", [0, 1])
def test_without_class_counts_the_stream_stops_once_every_shard_was_read_without_the_class(configs, sources, tmp_path,
                                                                                          workers):
    """An index that does not count the classes: the group's stream reads every SURF shard to its end without a
    bona fide sample, then stops with the same line, from inside a DataLoader worker too."""
    shards = sources.split("sources", "train")
    surf = attacks_only(configs["surf"], tmp_path / "surf")
    urls = [str(surf / Path(url).name) if domain == "surf" else url for url, domain in zip(shards.urls, shards.domains)]
    uncounted = replace(shards, urls=urls, shard_samples=(), shard_bonafide=())
    with pytest.raises(UsageError, match=r"^sources/train: domain surf has no bona fide sample in its 4 shards"):
        list(loader(train_pipeline(uncounted, ["rgb"], batch_size=6, epoch_samples=60, num_workers=workers), workers))


def test_splits_json_counts_the_bona_fide_samples_of_every_shard(configs, truth):
    for dataset, config in configs.items():
        for name, entry in json.loads((config.manifests / "splits.json").read_text())["splits"].items():
            by_shard = truth[dataset].groupby("shard")["is_bonafide"].agg(["size", "sum"])
            shards = [shard.removesuffix(".tar") for shard in entry["shards"]]
            assert entry["shard_samples"] == by_shard.loc[shards, "size"].tolist(), name
            assert entry["shard_bonafide"] == by_shard.loc[shards, "sum"].tolist(), name
