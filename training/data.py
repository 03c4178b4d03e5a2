"""Streaming the shards of one protocol split into training and evaluation batches (WebDataset).

The split's shard list and sample count come from ``manifests/<ds>/splits.json`` (written by the
shard stage), so nothing scans tars to learn an epoch length.

* training: shards resampled with a seed per (base seed, epoch, rank, worker), a shuffle buffer, a
  fixed number of batches per epoch, one random geometric transform per sample shared by all images;
* dev / test: every shard once, split across ranks (``torchrun``) and DataLoader workers, so every
  sample is seen exactly once overall; centre crops.

Members are decoded by this module only (PNG/JPEG images and JSON): nothing is ever unpickled.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .augment import AugmentConfig, colour_jitter, geometric_matrix, to_tensor_array, warp

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = ("png", "jpg")


@dataclass(frozen=True)
class SplitShards:
    protocol: str
    split: str
    urls: list[str]
    n_samples: int


def split_shards(manifests: Path, protocol: str, split: str, shard_dir: Path | None = None) -> SplitShards:
    """The shard files and sample count of ``protocol/split`` from ``splits.json``."""
    index = json.loads((manifests / "splits.json").read_text())
    name = f"{protocol}/{split}"
    if name not in index["splits"]:
        known = sorted({s.split("/")[0] for s in index["splits"]})
        raise KeyError(f"{manifests / 'splits.json'}: no shards for {name}; protocols with shards: {known}")
    entry = index["splits"][name]
    folder = shard_dir or Path(index["shard_dir"])
    return SplitShards(protocol, split, [str(folder / shard) for shard in entry["shards"]], int(entry["n_samples"]))


def _image(data: bytes) -> np.ndarray:
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("image does not decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def _member(sample: dict[str, Any], name: str) -> bytes:
    for extension in IMAGE_EXTENSIONS:
        if f"{name}.{extension}" in sample:
            return sample[f"{name}.{extension}"]
    raise KeyError(f"sample {sample.get('__key__')} in {sample.get('__url__')} has no {name} image")


class SampleDecoder:
    """Raw tar members → arrays of the requested modalities, augmented or centre-cropped."""

    def __init__(self, modalities: list[str], augment: AugmentConfig, train: bool, seed: int = 0):
        self.modalities, self.augment, self.train, self.seed = modalities, augment, train, seed
        self._rng: np.random.Generator | None = None

    def rng(self) -> np.random.Generator:
        if self._rng is None:  # built inside the worker, seeded by worker and rank
            import webdataset as wds

            self._rng = np.random.default_rng([self.seed, wds.utils.pytorch_worker_seed()])
        return self._rng

    def __call__(self, sample: dict[str, Any]) -> dict[str, Any]:
        meta = json.loads(sample["json"])
        images = {name: _image(_member(sample, name)) for m in self.modalities for name in (m, f"{m}_di")}
        source = next(iter(images.values())).shape[0]
        rng = self.rng() if self.train else None
        matrix = geometric_matrix(source, self.augment, rng)
        out: dict[str, Any] = {}
        for name, image in images.items():
            if rng is not None and name == "rgb" and self.augment.colour > 0:
                image = colour_jitter(image, self.augment.colour, rng)
            out[name] = to_tensor_array(warp(image, matrix, self.augment.input_size))
        out["label"] = np.float32(meta["is_bonafide"])
        out["video_id"] = meta["video_id"]
        out["attack_type"] = meta["attack_type"]
        out["subject"] = meta["subject"]
        out["key"] = sample["__key__"]
        return out


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    batch: dict[str, Any] = {}
    for name, value in samples[0].items():
        values = [s[name] for s in samples]
        batch[name] = torch.from_numpy(np.stack(values)) if isinstance(value, (np.ndarray, np.floating)) else values
    return batch


def seeded_shuffle(buffer: int, seed: int):
    """A shuffle buffer seeded by (seed, rank, worker): built inside each worker, reproducible per epoch."""
    import random

    import webdataset as wds

    def stage(samples):
        rng = random.Random(f"{seed}-{wds.utils.pytorch_worker_seed()}")
        return wds.shuffle(buffer, initial=min(buffer, 100), rng=rng)(samples)

    return stage


def train_pipeline(
    shards: SplitShards, modalities: list[str], batch_size: int, epoch_samples: int | None = None,
    augment: AugmentConfig = AugmentConfig(), shuffle_buffer: int = 500, seed: int = 0,
    world_size: int = 1, num_workers: int = 0,
):
    """Endless resampled stream cut into epochs of a fixed number of batches per worker."""
    import webdataset as wds

    per_epoch = epoch_samples or shards.n_samples
    batches = max(1, math.ceil(per_epoch / (batch_size * world_size * max(1, num_workers))))
    return wds.DataPipeline(
        wds.ResampledShards(shards.urls, seed=seed, deterministic=True),
        wds.tarfile_to_samples(),
        seeded_shuffle(shuffle_buffer, seed),
        wds.map(SampleDecoder(modalities, augment, train=True, seed=seed)),
        wds.batched(batch_size, collation_fn=collate, partial=False),
    ).with_epoch(batches)


def eval_pipeline(shards: SplitShards, modalities: list[str], batch_size: int, augment: AugmentConfig = AugmentConfig()):
    """Every sample exactly once across ranks and workers, in shard order, centre-cropped."""
    import webdataset as wds

    return wds.DataPipeline(
        wds.SimpleShardList(shards.urls),
        wds.split_by_node,
        wds.split_by_worker,
        wds.tarfile_to_samples(),
        wds.map(SampleDecoder(modalities, augment, train=False)),
        wds.batched(batch_size, collation_fn=collate, partial=True),
    )


def loader(pipeline, num_workers: int) -> torch.utils.data.DataLoader:
    """A DataLoader over an already-batched pipeline (batch_size=None: WebDataset batches)."""
    return torch.utils.data.DataLoader(pipeline, batch_size=None, num_workers=num_workers, persistent_workers=False)


def eval_workers(shards: SplitShards, requested: int, world_size: int = 1) -> int:
    """At most one worker per shard on each rank, so no worker starts with an empty shard list."""
    per_rank = math.ceil(len(shards.urls) / world_size)
    return max(0, min(requested, per_rank))


def iterate_eval(shards: SplitShards, modalities: list[str], batch_size: int, num_workers: int,
                 world_size: int = 1) -> Iterator[dict[str, Any]]:
    workers = eval_workers(shards, num_workers, world_size)
    yield from loader(eval_pipeline(shards, modalities, batch_size), workers)
