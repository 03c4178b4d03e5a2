"""``checkpoint.pt``: the trained network, the optimiser state and what built them, saved atomically.

The checkpoint holds the network's own configuration (:meth:`SDNet.config`), so evaluation rebuilds
exactly the trained network from the file alone. It is loaded with ``weights_only=True``: tensors and
plain containers only, never pickled code.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from pipeline.datasets.records import MODALITIES
from pipeline.errors import UsageError
from pipeline.io import replace_atomically

from .config import TrainConfig
from .distributed import SDNetOrDDP, unwrap
from .model import SDNet


def build_model(config: TrainConfig, modalities: list[str]) -> SDNet:
    """A fresh SD-Net for ``modalities`` with the run's switches (and ImageNet weights when given)."""
    model = SDNet(modalities=tuple(modalities), width=config.width, static=config.static, dynamic=config.dynamic,
                  shared=config.shared, forward_feeding=config.forward_feeding,
                  backward_feeding=config.backward_feeding, final_head=config.final_head)
    if config.init_weights:
        try:
            model.load_imagenet(config.init_weights)
        except ValueError as error:  # load_imagenet's errors: the file is not torchvision's resnet18 weights
            raise UsageError(f"--init-weights {error}") from error
    return model


def save_checkpoint(path: Path, model: SDNetOrDDP, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, epoch: int, config: TrainConfig) -> None:
    core = unwrap(model)
    state = {"model": core.state_dict(), "model_config": core.config(), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "epoch": epoch, "config": asdict(config)}
    replace_atomically(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Tensors and plain containers only: ``weights_only=True`` never runs pickled code."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train first (python -m training.train), or pass "
                                "--checkpoint")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_trained(path: Path) -> tuple[SDNet, list[str]]:
    """The checkpoint's SD-Net as it was trained, and the modalities it was trained on."""
    state = load_checkpoint(path)
    model = SDNet(**_model_config(state))
    model.load_state_dict(state["model"])
    return model, list(model.modalities)


def _model_config(state: dict[str, Any]) -> dict[str, Any]:
    """The network's configuration; checkpoints written before it was saved give it by their training
    settings and the modalities their weights hold (and were trained with the shared head)."""
    if "model_config" in state:
        return dict(state["model_config"])
    config = state["config"]
    present = {key.split(".")[1] for key in state["model"] if key.startswith("streams.")}
    switches = ("width", "static", "dynamic", "shared", "forward_feeding", "backward_feeding")
    return {"modalities": [m for m in MODALITIES if m in present], "final_head": config.get("final_head", "shared"),
            **{key: config[key] for key in switches if key in config}}
