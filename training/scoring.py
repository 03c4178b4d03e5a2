"""Scoring every window of a protocol split with a model: one row per window in the score schema."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel

from .augment import normalise
from .data import SplitShards, iterate_eval
from .distributed import gather_rows, unwrap
from .scores import HEAD_PREFIX, SCORE_COLUMNS

log = logging.getLogger(__name__)

#: A window's score row: its sample key, then the per-video score schema (then one column per head).
WINDOW_COLUMNS = ["key", *SCORE_COLUMNS]


def model_inputs(batch: dict[str, Any], modalities: list[str], device: torch.device) -> dict[str, torch.Tensor]:
    """A batch's uint8 images, moved to ``device`` and ImageNet-normalised there: the one place where
    training, scoring and the benchmarks turn loader output into model input."""
    names = [n for m in modalities for n in (m, f"{m}_di")]
    return {n: normalise(batch[n].to(device, non_blocking=True)) for n in names}


class ScoringModel(Protocol):
    """What :func:`score_windows` needs of a model: an SD-Net, or a wrapper that feeds it other inputs."""

    training: bool

    @property
    def head_names(self) -> list[str]: ...

    def __call__(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]: ...

    def score(self, logits: Mapping[str, torch.Tensor]) -> torch.Tensor: ...

    def eval(self) -> object: ...

    def train(self, mode: bool = True) -> object: ...


@torch.no_grad()
def score_windows(
    model: ScoringModel | DistributedDataParallel, shards: SplitShards, modalities: list[str], batch_size: int,
    num_workers: int, device: torch.device, world_size: int = 1, fail_fast: bool = False,
) -> pd.DataFrame:
    """Bona fide scores of every window of the split (gathered from all ranks when distributed).

    Besides ``score`` each row holds every head's probability (``head:<name>`` columns).
    A window that does not read is skipped (``fail_fast``: raises instead); the scored count is then
    checked against the split's sample count from splits.json, so a shortfall is never silent.
    """
    # the unwrapped model: a DDP forward would sync buffers with ranks that may have no dev shard
    core = unwrap(model) if isinstance(model, DistributedDataParallel) else model
    was_training = core.training
    core.eval()
    heads = list(core.head_names)
    rows, skipped = [], 0
    for batch in iterate_eval(shards, modalities, batch_size, num_workers, world_size, fail_fast):
        skipped += batch["skipped"]
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            logits = core(model_inputs(batch, modalities, device))
        logits = {name: logit.float() for name, logit in logits.items()}  # score and heads from the same values
        scores = core.score(logits).cpu().tolist()
        per_head = torch.stack([torch.sigmoid(logits[h]) for h in heads], dim=1).cpu().tolist()
        for i, score in enumerate(scores):
            rows.append((batch["key"][i], batch["video_id"][i], batch["subject"][i], bool(batch["label"][i] > 0.5),
                         batch["attack_type"][i], score, *per_head[i]))
    core.train(was_training)
    if skipped:
        log.warning("%s/%s: %d corrupt samples skipped: their windows have no score", shards.protocol, shards.split,
                    skipped)
    rows = gather_rows(rows)
    if len(rows) != shards.n_samples:
        log.error("%s/%s: %d windows scored, splits.json lists %d: the metrics miss the others",
                  shards.protocol, shards.split, len(rows), shards.n_samples)
    columns = [*WINDOW_COLUMNS, *(HEAD_PREFIX + h for h in heads)]
    return pd.DataFrame(rows, columns=columns).sort_values("key", ignore_index=True)
