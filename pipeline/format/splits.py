"""``splits.json``: what a loader needs to know about the shards of a dataset's protocols, written by the shard stage.

For every protocol split (``4_1/train``, …): its shard files, the samples and the bona fide samples in each, the
samples in all, and the modalities a model may use in it (CeFA Protocol 3 trains on one and tests on others); for
every protocol, its aliases (``4@1``, ``p4.1``); the dataset; and the side of the stored crops (a training input may
not be larger). The cross-dataset protocols' file (``pipeline.cross``) has the same splits made of *parts*, one
per dataset, each with that dataset's shard folder, shards and their counts. Training and evaluation read this
file, the manifests and their checkpoint, and nothing else: no protocol definitions, no dataset code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import storage
from ..errors import UsageError
from ..storage import Location

SPLITS_FILE = "splits.json"


@dataclass(frozen=True)
class SplitShards:
    protocol: str
    split: str
    urls: list[str]
    n_samples: int
    modalities: tuple[str, ...] = ()
    #: The domain (dataset) of each shard in ``urls``: what a loader mixing several datasets balances over.
    domains: tuple[str, ...] = ()
    #: The samples and the bona fide samples of each shard in ``urls`` (empty when the index does not say): what
    #: a loader balancing classes reads a class from.
    shard_samples: tuple[int, ...] = ()
    shard_bonafide: tuple[int, ...] = ()

    def by_domain(self) -> dict[str, list[str]]:
        """The shard URLs of each domain, in order of first appearance."""
        grouped: dict[str, list[str]] = {}
        for url, domain in zip(self.urls, self.domains or ("",) * len(self.urls)):
            grouped.setdefault(domain, []).append(url)
        return grouped


def split_index(shards: list[dict[str, Any]], shard_dir: Location, modalities: dict[str, list[str]],
                aliases: dict[str, list[str]], crop_size: int, dataset: str) -> dict[str, Any]:
    """The document: ``shards`` rows (shard, signature, n_samples, n_bonafide), ``modalities`` by ``protocol/split``,
    ``aliases`` by protocol; ``shard_dir`` is the shard folder or URL; ``crop_size`` the side of every stored
    image; ``dataset`` the domain of every shard."""
    splits: dict[str, dict[str, Any]] = {}
    for row in shards:
        for split in row["signature"]:
            entry = splits.setdefault(split, {"shards": [], "shard_samples": [], "shard_bonafide": [], "n_samples": 0,
                                              "modalities": list(modalities.get(split, []))})
            entry["shards"].append(f"{row['shard']}.tar")
            entry["shard_samples"].append(int(row["n_samples"]))
            entry["shard_bonafide"].append(int(row["n_bonafide"]))
            entry["n_samples"] += int(row["n_samples"])
    protocols = sorted({name.split("/")[0] for name in splits})
    return {"dataset": dataset, "shard_dir": str(shard_dir), "crop_size": crop_size,
            "protocols": {p: {"aliases": sorted(aliases.get(p, []))} for p in protocols},
            "splits": dict(sorted(splits.items()))}


@dataclass(frozen=True)
class SplitIndex:
    """A read ``splits.json``."""

    path: Location
    document: dict[str, Any]

    @classmethod
    def load(cls, manifests: str | Path) -> SplitIndex:
        """``splits.json`` of a manifest folder or URL."""
        path = storage.join(manifests, SPLITS_FILE)
        if not storage.is_file(path):
            raise UsageError(f"{path} does not exist: run python -m pipeline.shard first (it writes the shards and "
                             "their index), or pass --manifests DIR")
        return cls(path, storage.read_json(path))

    @property
    def crop_size(self) -> int | None:
        """The side in pixels of every stored image (None in an index written before it was recorded)."""
        return self.document.get("crop_size")

    def names(self) -> list[str]:
        """Every protocol and alias, for messages: ``4_1 (4@1, p4.1)``."""
        return [f"{p} ({', '.join(e['aliases'])})" if e["aliases"] else p
                for p, e in self.document.get("protocols", {}).items()]

    def resolve(self, name: str) -> str:
        """The protocol a name or alias stands for (``4@1`` → ``4_1``)."""
        for protocol, entry in self.document.get("protocols", {}).items():
            if name == protocol or name in entry["aliases"]:
                return protocol
        raise UsageError(f"{self.path}: no shards for protocol {name!r}; protocols with shards: "
                         f"{'; '.join(self.names()) or 'none'}")

    def split(self, protocol: str, split: str, shard_dir: str | Path | None = None) -> SplitShards:
        """The shard files, sample count, modalities, domains and per-shard class counts (when every part has them)
        of ``protocol/split``. ``shard_dir`` (a folder or
        URL; ``{dataset}`` in it is each part's dataset) overrides the folders the index names. Every shard must be
        there (one listing of each folder)."""
        name = f"{self.resolve(protocol)}/{split}"
        if name not in self.document["splits"]:
            raise UsageError(f"{self.path}: no shards for {name} (every recording of it was rejected: see "
                             "rejects.parquet)")
        entry = self.document["splits"][name]
        urls: list[str] = []
        domains: list[str] = []
        parts = self.parts(entry)
        for part in parts:
            found = self._locate(name, part, shard_dir)
            urls += found
            domains += [part["dataset"]] * len(found)
        counted = all("shard_samples" in part and "shard_bonafide" in part for part in parts)
        samples, bonafide = ([n for part in parts for n in part[key]] if counted else []
                             for key in ("shard_samples", "shard_bonafide"))
        return SplitShards(name.split("/")[0], split, urls, int(entry["n_samples"]), tuple(entry["modalities"]),
                           tuple(domains), tuple(samples), tuple(bonafide))

    def parts(self, entry: dict[str, Any]) -> list[dict[str, Any]]:
        """A split's parts: one per dataset (dataset, shard_dir, shards, and where known shard_samples and
        shard_bonafide); a dataset's own split is one part."""
        if "parts" in entry:
            return list(entry["parts"])
        counts: dict[str, Any] = {key: entry[key] for key in ("shard_samples", "shard_bonafide") if key in entry}
        return [{"dataset": self.document.get("dataset", ""), "shard_dir": self.document["shard_dir"],
                 "shards": entry["shards"], **counts}]

    def _locate(self, name: str, part: dict[str, Any], shard_dir: str | Path | None) -> list[str]:
        """The URLs of one part's shards, each checked to be there."""
        if shard_dir is not None and "parts" in self.document["splits"][name] and "{dataset}" not in str(shard_dir):
            raise UsageError(f"{name} reads the shards of several datasets: give --shards with {{dataset}} in it "
                             "(data/shards/{dataset}), where each dataset's shards are")
        template = str(shard_dir) if shard_dir is not None else None
        folder = storage.as_location(template.format(dataset=part["dataset"]) if template else part["shard_dir"])
        for shard in part["shards"]:
            if Path(shard).name != shard or not shard.endswith(".tar"):  # a shard list names files of one folder
                raise ValueError(f"{self.path}: {name} lists {shard!r}, not a .tar file name")
        present = storage.files(folder, ".tar")
        missing = [shard for shard in part["shards"] if shard not in present]
        if missing:  # a loader would skip them one by one, forever: stop here, and say where they were sought
            raise UsageError(f"{storage.join(folder, missing[0])} does not exist ({len(missing)} of the "
                             f"{len(part['shards'])} shards of {name} missing): {storage.name_of(self.path)} "
                             f"expects the shards in {folder}; pass --shards DIR where they are, or run "
                             "python -m pipeline.shard")
        return [str(storage.join(folder, shard)) for shard in part["shards"]]
