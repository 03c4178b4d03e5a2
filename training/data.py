"""Streaming the shards of one protocol split into training and evaluation batches (WebDataset).

The split's shard list, sample count, modalities and the domain (dataset) of each shard come from
``manifests/<ds>/splits.json`` (written by the shard stage, read through :mod:`pipeline.format.splits`), so
nothing scans tars to learn an epoch length. Every sample carries its domain (``batch["domain"]``), taken
from its shard's URL.

* training: shards resampled with a seed per (base seed, epoch, rank, worker), a shuffle buffer, a
  fixed number of batches per epoch, one random geometric transform per sample shared by all images; a
  split of several datasets gives batches balanced across domains and classes (:mod:`training.balance`);
* dev / test: every shard once, split across ranks (``torchrun``) and DataLoader workers, so every
  sample is seen exactly once overall; centre crops.

Members are decoded here only (images by ``pipeline.format.images.decode_image``, and JSON): nothing is
ever unpickled.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from pipeline.errors import BrokenShards, UsageError
from pipeline.format.images import decode_image
from pipeline.format.members import image_member, image_names
from pipeline.format.splits import SplitIndex, SplitShards

from .augment import AugmentConfig, colour_jitter, geometric_matrix, warp_all
from .balance import INITIAL_SHUFFLE, balance_plan, balanced_samples
from .tar_stream import tar_samples

log = logging.getLogger(__name__)

#: The batch field that carries a packed batch's images between processes (see ``collate``).
PACKED = "__packed__"
#: The field of the last batch of a worker that had to stop (broken shards, or a split it cannot balance): the
#: error, raised again where batches arrive.
STOPPED = "__stopped__"


def split_shards(manifests: str | Path, protocol: str, split: str, shard_dir: str | Path | None = None) -> SplitShards:
    """The shard files, sample count and modalities of ``protocol/split`` (a name or alias) from ``splits.json``;
    ``manifests`` and ``shard_dir`` are folders or URLs."""
    return SplitIndex.load(manifests).split(protocol, split, shard_dir)


#: Errors that mean a sample or a tar is damaged: skipped within the budget. Anything else (a shard file
#: that is not there, a TypeError or NameError of our own code) stops the run at once.
DATA_ERRORS = (ValueError, cv2.error)
#: Corrupt samples in a row after which the shards count as broken and the run stops.
MAX_CONSECUTIVE_CORRUPT = 20
#: Skips logged one by one before the log shows only every hundredth.
LOGGED_SKIPS = 5


class CorruptSample(ValueError):
    """A sample whose members are missing or do not decode; the message names the shard and the key."""


def _member(sample: dict[str, Any], name: str) -> bytes:
    data = image_member(sample, name)
    if data is None:
        raise CorruptSample(f"no {name} image")
    return data


class CorruptSamples:
    """What happens to a sample (or the rest of a tar) that does not read: skipped and counted, or fatal.

    Used as WebDataset's error handler. Skipping is the default, so one bad sample does not end an
    eight-GPU run at hour six; ``fail_fast`` raises instead. Skipping has a budget: after
    ``max_consecutive`` corrupt samples with no good one between them the shards are broken, and the run
    stops with a message rather than skip forever. Errors that are not about the data (a missing shard
    file, a bug) are raised at once. Each DataLoader worker counts its own skips and hands them on in
    every batch's ``skipped`` field, so the training loop sees the total.
    """

    def __init__(self, fail_fast: bool = False, max_consecutive: int = MAX_CONSECUTIVE_CORRUPT):
        self.fail_fast, self.max_consecutive = fail_fast, max_consecutive
        self.skipped = self.consecutive = 0

    def __call__(self, error: Exception) -> bool:
        if isinstance(error, BrokenShards) or not isinstance(error, DATA_ERRORS):
            raise error
        if self.fail_fast:
            raise BrokenShards(f"corrupt data: {error} (this run stops at the first corrupt sample; check the shards "
                               "with python -m pipeline.verify)") from error
        self.skipped += 1
        self.consecutive += 1
        if self.consecutive > self.max_consecutive:
            raise BrokenShards(f"{self.consecutive} corrupt samples in a row, the last: {error}; the shards look "
                               "broken: check them with python -m pipeline.verify") from error
        if self.skipped <= LOGGED_SKIPS or self.skipped % 100 == 0:
            log.warning("skipping corrupt data (%d so far in this worker): %s", self.skipped, error)
        return True  # WebDataset: go on with the next sample

    def passed(self, samples: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Pipeline stage after decoding: a good sample ends a run of corrupt ones."""
        for sample in samples:
            self.consecutive = 0
            yield sample

    def count_in_batches(self, batches: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Pipeline stage: each batch carries the skips since the previous one. Broken shards (or a domain that
        cannot be balanced) end the stream with a batch that says so (:data:`STOPPED`): raised in a DataLoader
        worker, the error would reach the main process buried in the worker's traceback, not as the one line it is."""
        reported = 0
        try:
            for batch in batches:
                batch["skipped"], reported = self.skipped - reported, self.skipped
                yield batch
        except (BrokenShards, UsageError) as error:
            yield {STOPPED: type(error)(str(error))}  # the message alone: no traceback travels


class SampleDecoder:
    """Raw tar members → uint8 HxWxC arrays (C = 1 for grey) of the requested modalities, augmented or
    centre-cropped. ``collate`` turns them into NxCxHxW batches, still uint8 all the way to the device:
    ``training.scoring.model_inputs`` normalises them there. ``domains`` maps each shard URL to its domain
    (:func:`shard_domains`); a sample from a shard it does not name has the domain ``""``.
    """

    def __init__(self, modalities: list[str], augment: AugmentConfig, train: bool, seed: int = 0,
                 domains: Mapping[str, str] | None = None):
        self.modalities, self.augment, self.train, self.seed = modalities, augment, train, seed
        self.domains = dict(domains or {})
        self._rng: np.random.Generator | None = None

    def rng(self) -> np.random.Generator:
        if self._rng is None:  # built inside the worker, seeded by worker and rank
            import webdataset as wds

            self._rng = np.random.default_rng([self.seed, wds.utils.pytorch_worker_seed()])
        return self._rng

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.decode(sample)
        except DATA_ERRORS as error:  # json and npy errors are ValueErrors
            raise CorruptSample(f"{sample.get('__url__')}: sample {sample.get('__key__')}: {error}") from error

    def decode(self, sample: dict[str, Any]) -> dict[str, Any]:
        if "json" not in sample:
            raise CorruptSample("no json member")
        meta = json.loads(sample["json"])
        images = {name: decode_image(_member(sample, name)) for m in self.modalities for name in image_names(m)}
        source = next(iter(images.values())).shape[0]
        rng = self.rng() if self.train else None
        matrix = geometric_matrix(source, self.augment, rng)
        if rng is not None and "rgb" in images and self.augment.colour > 0:
            images["rgb"] = colour_jitter(images["rgb"], self.augment.colour, rng)
        out: dict[str, Any] = warp_all(images, matrix, self.augment.input_size)
        out["label"] = float(meta["is_bonafide"])
        out["video_id"] = meta["video_id"]
        out["attack_type"] = meta["attack_type"]
        out["subject"] = meta["subject"]
        out["domain"] = self.domains.get(sample.get("__url__", ""), "")
        out["key"] = sample["__key__"]
        return out


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Samples → a packed batch: the HxWxC images of each name stacked as NxCxHxW, name after name, into
    ONE flat uint8 tensor; numbers and strings as lists. :func:`unpack` makes the named tensors in the
    receiving process.

    One tensor, because each tensor a DataLoader worker hands over costs a file-descriptor handshake
    with the main process: with seven a batch that was most of the main process's time. Stacking
    straight into the channel-first layout copies each image once, not twice (transpose, then stack).
    """
    first, count = samples[0], len(samples)
    shapes = {name: (count, value.shape[2], *value.shape[:2])
              for name, value in first.items() if isinstance(value, np.ndarray)}
    flat = torch.empty(sum(math.prod(shape) for shape in shapes.values()), dtype=torch.uint8)
    offset = 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        block = flat.numpy()[offset:offset + size].reshape(shape)
        np.stack([s[name] for s in samples], out=block.transpose(0, 2, 3, 1))
        offset += size
    batch: dict[str, Any] = {name: [s[name] for s in samples] for name in first if name not in shapes}
    return batch | {PACKED: (flat, shapes)}


def unpack(batch: dict[str, Any]) -> dict[str, Any]:
    """A packed batch (see :func:`collate`) → uint8 NxCxHxW tensors by name (views of the one flat
    tensor), float32 tensors for lists of numbers, lists for the rest. The batch that ends a stopped stream
    raises its error (:class:`BrokenShards`, :class:`UsageError`) here."""
    if STOPPED in batch:
        raise batch[STOPPED]
    flat, shapes = batch.pop(PACKED)
    offset = 0
    for name, shape in shapes.items():
        size = math.prod(shape)
        batch[name] = flat[offset:offset + size].view(shape)
        offset += size
    for name, values in batch.items():
        if isinstance(values, list) and values and isinstance(values[0], float):
            batch[name] = torch.tensor(values, dtype=torch.float32)
    return batch


def shard_domains(shards: SplitShards) -> dict[str, str]:
    """Shard URL → domain (its dataset) of a split, from splits.json: what a sample's ``domain`` comes from."""
    return {url: domain for domain, urls in shards.by_domain().items() for url in urls}


def seeded_shuffle(buffer: int, seed: int):
    """A shuffle buffer seeded by (seed, rank, worker): built inside each worker, reproducible per epoch."""
    import random

    import webdataset as wds

    def stage(samples):
        rng = random.Random(f"{seed}-{wds.utils.pytorch_worker_seed()}")
        return wds.shuffle(buffer, initial=min(buffer, INITIAL_SHUFFLE), rng=rng)(samples)

    return stage


def train_pipeline(
    shards: SplitShards, modalities: list[str], batch_size: int, epoch_samples: int | None = None,
    augment: AugmentConfig = AugmentConfig(), shuffle_buffer: int = 500, seed: int = 0,
    world_size: int = 1, num_workers: int = 0, on_error: CorruptSamples | None = None, balance: str = "auto",
):
    """Endless resampled stream cut into epochs of a fixed number of batches per worker. ``balance``
    (train.balance): ``auto`` balances the batches across domains and classes when the split holds several
    domains (:mod:`training.balance`), ``domains_and_classes`` always, ``none`` never (one shuffled stream)."""
    import webdataset as wds

    on_error = on_error or CorruptSamples()
    per_epoch = epoch_samples or shards.n_samples
    batches = max(1, math.ceil(per_epoch / (batch_size * world_size * max(1, num_workers))))
    decoder = SampleDecoder(modalities, augment, train=True, seed=seed, domains=shard_domains(shards))
    plan = balance_plan(shards, balance, batch_size)
    samples = [balanced_samples(plan, shards, decoder, shuffle_buffer, seed, on_error)] if plan else [
        wds.ResampledShards(shards.urls, seed=seed, deterministic=True),
        tar_samples(on_error),
        seeded_shuffle(shuffle_buffer, seed),
        wds.map(decoder, handler=on_error),
    ]
    return wds.DataPipeline(
        *samples,
        on_error.passed,
        wds.batched(batch_size, collation_fn=collate, partial=False),
        on_error.count_in_batches,
    ).with_epoch(batches)


def eval_pipeline(shards: SplitShards, modalities: list[str], batch_size: int, augment: AugmentConfig = AugmentConfig(),
                  on_error: CorruptSamples | None = None):
    """Every sample exactly once across ranks and workers, in shard order, centre-cropped."""
    import webdataset as wds

    on_error = on_error or CorruptSamples()
    return wds.DataPipeline(
        wds.SimpleShardList(shards.urls),
        wds.split_by_node,
        wds.split_by_worker,
        tar_samples(on_error),
        wds.map(SampleDecoder(modalities, augment, train=False, domains=shard_domains(shards)), handler=on_error),
        on_error.passed,
        wds.batched(batch_size, collation_fn=collate, partial=True),
        on_error.count_in_batches,
    )


def loader(pipeline, num_workers: int) -> Iterator[dict[str, Any]]:
    """The batches of an already-batched pipeline through a DataLoader (batch_size=None: WebDataset
    batches), unpacked in this process. Workers start at the first batch."""
    batches = torch.utils.data.DataLoader(pipeline, batch_size=None, num_workers=num_workers, persistent_workers=False)
    for batch in batches:
        yield unpack(batch)


def eval_workers(shards: SplitShards, requested: int, world_size: int = 1) -> int:
    """At most one worker per shard on each rank, so no worker starts with an empty shard list."""
    per_rank = math.ceil(len(shards.urls) / world_size)
    return max(0, min(requested, per_rank))


def iterate_eval(shards: SplitShards, modalities: list[str], batch_size: int, num_workers: int,
                 world_size: int = 1, fail_fast: bool = False) -> Iterator[dict[str, Any]]:
    workers = eval_workers(shards, num_workers, world_size)
    pipeline = eval_pipeline(shards, modalities, batch_size, on_error=CorruptSamples(fail_fast))
    yield from loader(pipeline, workers)
