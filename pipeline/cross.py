"""Stage ``cross``: the cross-dataset protocols' splits, joined from the datasets' own (``protocols/cross.yaml``).

    python -m pipeline.cross [--manifests manifests/{dataset}] [--out manifests/cross]

A cross-dataset role (train, dev, test) is a union of single-dataset protocol splits, and every dataset's
shards are aligned with its protocol splits, so a role is a union of whole shards: nothing is written but the
index. ``<out>/splits.json`` has a split per protocol and role made of parts, one per dataset (its shard folder,
shards and sample counts), which training streams as any dataset's (``--run cross-oci_m``), each shard's dataset
its domain. Refused in one line: a video in two roles, a subject of a dataset in two roles, two datasets of a
role sharing a video id (scores are kept per video id), a modality a part lacks, crops of different sizes.
A protocol whose datasets have not been sharded is left out, with a warning (none at all leaves an index without
protocols); ``cross_report.json`` counts each role's videos, classes, subjects and samples per dataset.
"""
from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import storage
from .cli import add_params_argument, add_verbosity_arguments, command, configure_logging
from .errors import UsageError
from .format.splits import SPLITS_FILE, SplitIndex
from .params import load_section
from .protocols import SPEC_DIR

log = logging.getLogger(__name__)

CROSS = "cross"
ROLES = ("train", "dev", "test")
REPORT_FILE = "cross_report.json"
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Part:
    """Splits of one dataset's protocol that a role takes."""

    dataset: str
    protocol: str
    splits: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.dataset} {self.protocol}/{'+'.join(self.splits)}"


@dataclass(frozen=True)
class CrossProtocol:
    name: str
    title: str
    modalities: tuple[str, ...]
    roles: dict[str, tuple[Part, ...]]

    @property
    def datasets(self) -> list[str]:
        return sorted({part.dataset for parts in self.roles.values() for part in parts})


def load_cross(path: Path = SPEC_DIR / f"{CROSS}.yaml") -> dict[str, CrossProtocol]:
    """The cross-dataset protocols of ``path``, each checked to have the three roles and well-formed parts."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    protocols = {}
    for name, body in document["protocols"].items():
        where = f"{path}: protocol {name!r}"
        if not _NAME.match(str(name)) or set(body.get("splits", {})) != set(ROLES):
            raise ValueError(f"{where}: a name of letters, digits and '_', with exactly the splits {ROLES}")
        roles = {role: tuple(Part(str(p["dataset"]), str(p["protocol"]), tuple(p["splits"])) for p in parts)
                 for role, parts in body["splits"].items()}
        protocols[str(name)] = CrossProtocol(str(name), str(body.get("title", name)), tuple(body["modalities"]), roles)
    return protocols


class Sources:
    """The datasets' manifests, each read once: splits.json, protocol membership and subjects."""

    def __init__(self, manifests: str):
        self.manifests = manifests
        self._index: dict[str, SplitIndex | None] = {}
        self._members: dict[str, pd.DataFrame] = {}

    def folder(self, dataset: str) -> storage.Location:
        return storage.as_location(self.manifests.format(dataset=dataset))

    def index(self, dataset: str) -> SplitIndex | None:
        if dataset not in self._index:
            found = storage.is_file(storage.join(self.folder(dataset), SPLITS_FILE))
            self._index[dataset] = SplitIndex.load(self.folder(dataset)) if found else None
        return self._index[dataset]

    def members(self, dataset: str) -> pd.DataFrame:
        """protocols.parquet joined with each video's subject and label."""
        if dataset not in self._members:
            folder = self.folder(dataset)
            protocols = storage.read_parquet(storage.join(folder, "protocols.parquet"))
            videos = storage.read_parquet(storage.join(folder, "videos.parquet"),
                                          columns=["video_id", "subject", "is_bonafide"])
            self._members[dataset] = protocols.merge(videos, on="video_id", how="left")
        return self._members[dataset]


def join(protocols: dict[str, CrossProtocol], sources: Sources) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document of the cross-dataset split index, and the report, for every protocol whose datasets have been
    sharded."""
    splits: dict[str, Any] = {}
    report: dict[str, Any] = {}
    crop_sizes: dict[str, int | None] = {}
    for protocol in protocols.values():
        unsharded = [dataset for dataset in protocol.datasets if sources.index(dataset) is None]
        if unsharded:
            log.warning("%s (%s) left out: %s not sharded (no %s)", protocol.name, protocol.title, ", ".join(unsharded),
                        ", ".join(str(storage.join(sources.folder(d), SPLITS_FILE)) for d in unsharded))
            continue
        report[protocol.name] = _check_roles(protocol, sources)
        for role, parts in protocol.roles.items():
            entries = [_part(protocol, part, sources) for part in parts]
            splits[f"{protocol.name}/{role}"] = {"parts": entries, "modalities": list(protocol.modalities),
                                                 "n_samples": sum(sum(e["shard_samples"]) for e in entries)}
        crop_sizes |= {dataset: _index(sources, dataset).crop_size for dataset in protocol.datasets}
    if not splits:  # not an error: dvc repro runs this stage for a project of one dataset too
        needs = "; ".join(f"{p.name}: {', '.join(p.datasets)}" for p in protocols.values())
        log.warning("no cross-dataset protocol can be made: shard its datasets first (%s)", needs)
    if len(set(crop_sizes.values())) > 1:
        raise UsageError(f"the datasets' crops differ in size ({crop_sizes}): shard them with one shard.crop_size")
    made = sorted({name.split("/")[0] for name in splits})
    document = {"dataset": CROSS, "crop_size": next(iter(crop_sizes.values()), None),
                "protocols": {name: {"aliases": [], "title": protocols[name].title} for name in made},
                "splits": dict(sorted(splits.items()))}
    return document, report


def _part(protocol: CrossProtocol, part: Part, sources: Sources) -> dict[str, Any]:
    """One dataset's share of a role: the shards of its splits (each once), with their sample and bona fide counts
    (what a loader balancing classes reads a class from)."""
    index = _index(sources, part.dataset)
    shards: dict[str, tuple[int, int]] = {}
    for split in part.splits:
        name = f"{index.resolve(part.protocol)}/{split}"
        entry = index.document["splits"].get(name)
        if entry is None:
            raise UsageError(f"{protocol.name}: {part.dataset} has no shards for {name} ({index.path}): every "
                             "recording of it was rejected, or protocols/cross.yaml names a split it does not have")
        lacking = sorted(set(protocol.modalities) - set(entry["modalities"]))
        if lacking:
            raise UsageError(f"{protocol.name}: {part.dataset} {name} has no {', '.join(lacking)} (it has "
                             f"{', '.join(entry['modalities'])}): fix the protocol's modalities in "
                             "protocols/cross.yaml")
        bonafide = entry.get("shard_bonafide") or [None] * len(entry["shards"])  # an index from before it was kept
        shards |= {shard: (int(n), b) for shard, n, b in zip(entry["shards"], entry["shard_samples"], bonafide)}
    counts = {"shard_samples": [n for n, _ in shards.values()]}
    if all(b is not None for _, b in shards.values()):
        counts["shard_bonafide"] = [int(b) for _, b in shards.values()]
    return {"dataset": part.dataset, "shard_dir": index.document["shard_dir"], "from": str(part),
            "shards": list(shards), **counts}


def _index(sources: Sources, dataset: str) -> SplitIndex:
    """The split index of a dataset that :func:`join` found sharded."""
    index = sources.index(dataset)
    if index is None:
        raise RuntimeError(f"{dataset} is not sharded: join() leaves out the protocols of such datasets")
    return index


def _check_roles(protocol: CrossProtocol, sources: Sources) -> dict[str, Any]:
    """Refuse a video or subject in two roles, or a video id two datasets of a role share; count each role."""
    roles: dict[str, pd.DataFrame] = {}
    for role, parts in protocol.roles.items():
        frames = []
        for part in parts:
            members = sources.members(part.dataset)
            taken = members[(members["protocol"] == part.protocol) & members["split"].isin(part.splits)]
            frames.append(taken.drop_duplicates("video_id").assign(dataset=part.dataset))
        roles[role] = pd.concat(frames, ignore_index=True)
        shared_ids = roles[role].groupby("video_id")["dataset"].nunique()
        if (shared_ids > 1).any():
            raise UsageError(f"{protocol.name} {role}: video id {shared_ids[shared_ids > 1].index[0]!r} is in two "
                             "datasets; scores are kept per video id, so a role's ids must be unique")
    for first, second in ((a, b) for i, a in enumerate(ROLES) for b in ROLES[i + 1:]):
        for column, what in (("video_id", "video"), ("subject", "subject")):
            both = roles[first][["dataset", column]].merge(roles[second][["dataset", column]])
            if not both.empty:
                row = both.iloc[0]
                raise UsageError(f"{protocol.name}: {row['dataset']} {what} {row[column]!r} is in both {first} and "
                                 f"{second} ({len(both)} such): a role must not see another's {what}s")
    return {role: {dataset: {"videos": len(rows), "bonafide": int(rows["is_bonafide"].sum()),
                             "attacks": int((~rows["is_bonafide"].astype(bool)).sum()),
                             "subjects": int(rows["subject"].nunique())}
                   for dataset, rows in frame.groupby("dataset")}
            for role, frame in roles.items()}


@command("python -m pipeline.cross")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.cross", description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifests", help="the datasets' manifest folders or URLs, {dataset} filled in for each "
                                            "(default: shard.manifests of params.yaml)")
    parser.add_argument("--out", type=storage.as_location, help="folder or URL for splits.json and cross_report.json "
                                                                "(default: --manifests with {dataset} = cross)")
    add_params_argument(parser, "shard.manifests and the storage section")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    storage.configure(load_section("storage", args.params))
    template = args.manifests or load_section("shard", args.params).get("manifests")
    if not template or "{dataset}" not in str(template):
        raise UsageError("give --manifests with {dataset} in it (manifests/{dataset}): each dataset's folder")
    out = args.out or storage.as_location(str(template).format(dataset=CROSS))
    document, report = join(load_cross(), Sources(str(template)))
    storage.make_folder(out)
    storage.write_json(storage.join(out, SPLITS_FILE), document)
    storage.write_json(storage.join(out, REPORT_FILE), report)
    for name, roles in report.items():
        log.info("%s: %s", name, "; ".join(f"{role} {sum(d['videos'] for d in counts.values())} videos of "
                                           f"{', '.join(counts)}" for role, counts in roles.items()))
    log.info("%d cross-dataset protocols → %s", len(document["protocols"]), storage.join(out, SPLITS_FILE))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
