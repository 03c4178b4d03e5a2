"""Training batches balanced across domains (datasets) and classes, as SSDG balances them.

A split made of several datasets (a cross-dataset protocol's train split) is read as one stream per (domain,
class) group, as SSDG keeps one loader per domain and class: every rank and DataLoader worker reads every group,
each in its own seeded order of its domain's shards (only those that hold the class, where splits.json counts
them). A sample's class comes from its small JSON member, before any image is decoded; a sample of the other
class is dropped there, and its images stored after the JSON are not even read. Each group has its own shuffle
buffer, all of them together about ``shuffle_buffer`` samples. So each class of each domain is sampled
uniformly, whatever the shards' class layout, and only what goes into a batch is decoded; a domain whose shards
mix four attacks with each bona fide sample is read about three times as fast as it is used, less where its
shards keep the classes apart (``benchmarks/bench_mixed.py`` prints the figure for its data).

The rule (:meth:`BalancePlan.quotas`): a batch of B samples and G = 2 x domains groups holds B // G samples of
every group, in the order of :attr:`BalancePlan.groups`; the B mod G left over go to the groups in turn (batch
i gives one more to groups (i * (B mod G) + j) mod G, j < B mod G), so every group gets the same count in every
G / gcd(B mod G, G) batches. The batch keeps ``train.batch_size``, the size its learning rate and memory were
chosen for, rather than being rounded to a multiple of G.
"""
from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.errors import UsageError
from pipeline.format.splits import SplitShards

from .tar_stream import tar_samples

#: train.balance: auto (balanced when the train split holds two or more domains) | domains_and_classes | none.
BALANCE_CHOICES = ("auto", "domains_and_classes", "none")
#: A domain's two groups, in batch order: bona fide first (``is_bonafide``), then attacks.
CLASSES = (True, False)
CLASS_NAMES = {True: "bona fide", False: "attack"}
#: A sample's class in its JSON member, read without parsing the rest (most samples a group reads are the other
#: class's); a JSON where it is not found exactly once is parsed.
LABEL = re.compile(rb'"is_bonafide"\s*:\s*(true|false)\b')
#: Samples the single stream's shuffle buffer gathers before its first (WebDataset's ``initial``), shared out
#: among the groups here.
INITIAL_SHUFFLE = 100

Group = tuple[str, bool]
Handler = Callable[[Exception], bool]


@dataclass(frozen=True)
class BalancePlan:
    """Which groups a balanced batch holds and how many of each."""

    domains: tuple[str, ...]
    batch_size: int

    @property
    def groups(self) -> list[Group]:
        return [(domain, label) for domain in self.domains for label in CLASSES]

    def quotas(self, batch: int) -> list[int]:
        """The samples of each group (in :attr:`groups` order) in a worker's batch number ``batch``."""
        count = len(self.groups)
        share, rest = divmod(self.batch_size, count)
        more = {(batch * rest + j) % count for j in range(rest)}
        return [share + (group in more) for group in range(count)]

    def describe(self) -> str:
        """The rule in words, for the training log."""
        count = len(self.groups)
        share, rest = divmod(self.batch_size, count)
        rule = (f"{len(self.domains)} domains ({', '.join(self.domains)}) x bona fide / attack: each batch of "
                f"{self.batch_size} holds {share} of each of the {count} (domain, class) groups")
        if not rest:
            return rule
        cycle = count // math.gcd(rest, count)
        return (f"{rule} and {rest} more, given to the groups in turn (train.batch_size is not a multiple of {count}): "
                f"every group gets {share * cycle + rest * cycle // count} in every {cycle} batches")


def balance_plan(shards: SplitShards, balance: str, batch_size: int) -> BalancePlan | None:
    """The balanced batches of a train split, or None for one shuffled stream over all its shards (``none``, or
    ``auto`` on a split of one domain: the stream a single dataset has always had). A batch too small for one
    sample of each group, or a domain without one of the classes (when splits.json counts them), is refused."""
    if balance not in BALANCE_CHOICES:
        raise UsageError(f"train.balance: {balance!r} is not one of {', '.join(BALANCE_CHOICES)}")
    by_domain = shards.by_domain()
    if balance == "none" or (balance == "auto" and len(by_domain) < 2):
        return None
    plan = BalancePlan(tuple(by_domain), batch_size)
    if batch_size < len(plan.groups):
        raise UsageError(f"train.batch_size = {batch_size} cannot hold one sample of each of the {len(plan.groups)} "
                         f"(domain, class) groups of {shards.protocol}/{shards.split} (train.balance: {balance}): set "
                         f"a batch size of {len(plan.groups)} or more, or train.balance: none")
    counts = class_counts(shards) or {}
    for domain, label in plan.groups:
        urls = by_domain[domain]
        if counts and not any(counts[url][label] for url in urls):
            raise missing_class(shards, domain, label, len(urls))
    return plan


def class_counts(shards: SplitShards) -> dict[str, dict[bool, int]] | None:
    """Shard URL → samples of each class (True: bona fide), from splits.json; None when it does not say."""
    if not shards.shard_bonafide:
        return None
    return {url: {True: bonafide, False: samples - bonafide}
            for url, samples, bonafide in zip(shards.urls, shards.shard_samples, shards.shard_bonafide)}


def missing_class(shards: SplitShards, domain: str, label: bool, count: int) -> UsageError:
    return UsageError(f"{shards.protocol}/{shards.split}: domain {domain} has no {CLASS_NAMES[label]} sample in its "
                      f"{count} shards, so its batches cannot be balanced across classes: train on a split where every "
                      "domain has both classes, or set train.balance: none")


class GroupStream:
    """The raw samples of one (domain, class) group, endlessly; the other class's samples are dropped as they are
    read, by their JSON member, before any image is decoded.

    The group reads its domain's shards on its own, in passes (each pass every shard once, in a new seeded order),
    and only as fast as its batches take samples. One reader shared by a domain's two groups would read less, but
    shards group recordings by protocol membership, which often follows the attack type: it would drop a shard's
    run of the scarcer class whenever it read through it for the other group, or, keeping the other class's
    samples, over-sample the attack types that share shards with bona fide ones. Shards that splits.json says hold
    none of the class are not read at all. A class that no shard of the domain holds would make a balanced batch
    wait forever: where splits.json does not count the classes, once every shard has been read to its end since
    the group's last sample, the stream stops with a :class:`UsageError` naming the domain.
    """

    def __init__(self, shards: SplitShards, group: Group, rng: random.Random, on_error: Handler):
        self.split, (self.domain, self.label), self.rng, self.on_error = shards, group, rng, on_error
        counts = class_counts(shards)
        self.urls = [url for url in shards.by_domain()[self.domain] if counts is None or counts[url][self.label]]
        self.found = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return tar_samples(self.on_error, keep=self.wanted)(self._shard_passes())

    def wanted(self, metadata: bytes) -> bool:
        """Whether a sample is of the group's class, by its JSON member; one whose JSON does not say goes on, for
        the decoder to call corrupt."""
        found = LABEL.findall(metadata)
        try:
            label = found[0] == b"true" if len(found) == 1 else bool(json.loads(metadata)["is_bonafide"])
        except (KeyError, TypeError, ValueError):
            return True
        self.found = self.found or label == self.label
        return label == self.label

    def _shard_passes(self) -> Iterator[dict[str, str]]:
        read_without: set[str] = set()  # shards read to their end since the group's last sample
        while True:
            for url in self.rng.sample(self.urls, len(self.urls)):
                self.found = False
                yield {"url": url}
                # the next shard is asked for: this one was read to its end
                if self.found:
                    read_without.clear()
                else:
                    read_without.add(url)
                if len(read_without) == len(self.urls):
                    raise missing_class(self.split, self.domain, self.label, len(self.urls))


def balanced_samples(plan: BalancePlan, shards: SplitShards, decode: Callable[[dict[str, Any]], dict[str, Any]],
                     buffer: int, seed: int, on_error: Handler) -> Callable[[], Iterator[dict[str, Any]]]:
    """Pipeline source: decoded samples, batch after batch, each batch ``plan.batch_size`` samples in group order.
    Each group's stream has its own shuffle buffer (WebDataset's), its share of ``buffer``. A sample that does not
    decode goes to ``on_error`` and another of its group takes its place, so every batch keeps the counts of the
    rule. Seeded by (seed, rank, worker), built inside each worker."""

    def stage() -> Iterator[dict[str, Any]]:
        import webdataset as wds

        worker = f"{seed}-{wds.utils.pytorch_worker_seed()}"
        share = max(1, buffer // len(plan.groups))
        initial = max(1, min(share, INITIAL_SHUFFLE // len(plan.groups)))
        groups = {group: wds.shuffle(share, initial, rng=random.Random(f"{worker}-{group}-shuffle"))(
                      iter(GroupStream(shards, group, random.Random(f"{worker}-{group}"), on_error)))
                  for group in plan.groups}
        batch = 0
        while True:
            for group, quota in zip(plan.groups, plan.quotas(batch)):
                for _ in range(quota):
                    yield _decoded(groups[group], decode, on_error)
            batch += 1

    return stage


def _decoded(samples: Iterator[dict[str, Any]], decode: Callable[[dict[str, Any]], dict[str, Any]],
             on_error: Handler) -> dict[str, Any]:
    while True:
        sample = next(samples)
        try:
            return decode(sample)
        except Exception as error:  # WebDataset's contract: the handler skips data errors, raises the others
            if not on_error(error):
                raise
