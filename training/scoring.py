"""Scoring every window of a protocol split with a model: one row per window in the score schema."""
from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from .data import SplitShards, iterate_eval
from .distributed import gather_rows

SCORE_COLUMNS = ["key", "video_id", "subject", "is_bonafide", "attack_type", "score"]


def model_inputs(batch: dict[str, Any], modalities: list[str], device: torch.device) -> dict[str, torch.Tensor]:
    names = [n for m in modalities for n in (m, f"{m}_di")]
    return {n: batch[n].to(device, non_blocking=True) for n in names}


@torch.no_grad()
def score_windows(
    model: torch.nn.Module, shards: SplitShards, modalities: list[str], batch_size: int, num_workers: int,
    device: torch.device, world_size: int = 1,
) -> pd.DataFrame:
    """Bona fide scores of every window of the split (gathered from all ranks when distributed)."""
    # the unwrapped model: a DDP forward would sync buffers with ranks that may have no dev shard
    core = model.module if hasattr(model, "module") else model
    was_training = core.training
    core.eval()
    rows = []
    for batch in iterate_eval(shards, modalities, batch_size, num_workers, world_size):
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            scores = core.score(core(model_inputs(batch, modalities, device))).float().cpu().tolist()
        for i, score in enumerate(scores):
            rows.append((batch["key"][i], batch["video_id"][i], batch["subject"][i], bool(batch["label"][i] > 0.5),
                         batch["attack_type"][i], score))
    core.train(was_training)
    rows = gather_rows(rows)
    return pd.DataFrame(rows, columns=SCORE_COLUMNS).sort_values("key", ignore_index=True)
