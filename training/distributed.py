"""torchrun support: process-group set-up from the environment, and gathering rows on every rank."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from pipeline.errors import UsageError

from .model import SDNet

#: The model training holds: the SD-Net, or under torchrun its DistributedDataParallel wrapper.
SDNetOrDDP = SDNet | DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_name: str | None = None) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA); ``device_name``: "cpu",
    "cuda" (which must be there) or None (CUDA when there is one)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device_name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: torch sees no CUDA device here (a CPU build of torch, or no driver): "
                         "pass --device cpu, or on a GPU machine install torch's CUDA build (docs/install.md)")
    use_cuda = torch.cuda.is_available() and device_name != "cpu"
    device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo(rank, world_size, local_rank, device)


def unwrap(model: SDNetOrDDP) -> SDNet:
    """The SD-Net inside a DistributedDataParallel wrapper (or the model itself)."""
    return cast(SDNet, model.module) if isinstance(model, DistributedDataParallel) else model


def gather_rows(rows: list) -> list:
    """Every rank's rows on every rank (a no-op without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return rows
    gathered: list[list] = [None] * dist.get_world_size()  # type: ignore[list-item]
    dist.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
