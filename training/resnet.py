"""ResNet-18 in plain PyTorch, with torchvision's parameter names, in pieces SD-Net can recombine.

torchvision's wheels do not run beside the CPU build of torch used here, so the network is written
out. Every parameter and buffer keeps the name torchvision's ``resnet18`` gives it (``conv1``, ``bn1``,
``layer1`` … ``layer4`` of ``BasicBlock``s with ``conv1``, ``bn1``, ``conv2``, ``bn2``,
``downsample.0``, ``downsample.1``, and ``fc``), so ImageNet weights saved by torchvision load by name
from a local file. Nothing here downloads anything.

SD-Net needs the network cut in two kinds of piece: the stem plus ``layer1`` (:class:`ResNetStem`, one
per static or dynamic branch) and ``layer2`` … ``layer4`` one by one (:func:`make_stage`), because the
shared branch feeds features in and out between stages. ``width`` sets the base channel count: 64 is
the real ResNet-18 (64/128/256/512 channels); smaller widths (8, 16) keep CPU demos and tests fast but
cannot take ImageNet weights.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

IMAGENET_WIDTH = 64  # base channels of the real ResNet-18, the only width ImageNet weights fit
STAGES = (1, 2, 3, 4)  # torchvision's layer1 … layer4; SD-Net calls them res1 … res4


def stage_channels(level: int, width: int = IMAGENET_WIDTH) -> int:
    """Output channels of ``layer{level}``: width, 2·width, 4·width, 8·width."""
    if level not in STAGES:
        raise ValueError(f"ResNet-18 has stages 1-4, got level={level!r}")
    return width * 2 ** (level - 1)


class BasicBlock(nn.Module):
    """torchvision's ResNet-18/34 block: two 3×3 convolutions and an identity (or 1×1) shortcut."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def make_stage(level: int, width: int = IMAGENET_WIDTH) -> nn.Sequential:
    """``layer{level}`` of ResNet-18: two blocks; stages 2-4 halve the resolution and double the channels.

    Returned as a bare ``nn.Sequential`` so its parameter names (``0.conv1.weight`` …) are torchvision's
    ``layer{level}.`` names with the prefix removed.
    """
    channels = stage_channels(level, width)
    in_channels = channels if level == 1 else stage_channels(level - 1, width)
    stride = 1 if level == 1 else 2
    return nn.Sequential(BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels))


class _WithStem(nn.Module):
    """The attributes :func:`_add_stem` sets, declared for the type checker (nn.Module's own
    ``__getattr__`` would type them as ``Tensor | Module``)."""

    conv1: nn.Conv2d
    bn1: nn.BatchNorm2d
    relu: nn.ReLU
    maxpool: nn.MaxPool2d
    layer1: nn.Sequential


def _add_stem(module: _WithStem, width: int, in_channels: int) -> None:
    """Give ``module`` torchvision's stem and ``layer1`` as attributes, so both classes below share names."""
    module.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
    module.bn1 = nn.BatchNorm2d(width)
    module.relu = nn.ReLU(inplace=True)
    module.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
    module.layer1 = make_stage(1, width)


def init_weights(module: nn.Module) -> None:
    """torchvision's initialisation: He (fan-out) for convolutions, BatchNorm to identity."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNetStem(_WithStem):
    """``conv1, bn1, relu, maxpool, layer1``: one piece, output at 1/4 resolution with ``width`` channels.

    Its state dict keys are exactly torchvision's (``conv1.weight``, ``layer1.0.bn2.running_var`` …), so
    it loads from a resnet18 file with no renaming.
    """

    def __init__(self, width: int = IMAGENET_WIDTH, in_channels: int = 3) -> None:
        super().__init__()
        self.width = width
        _add_stem(self, width, in_channels)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))


class ResNet18(_WithStem):
    """The whole classifier; with ``width=64`` its state dict has exactly torchvision resnet18's 122 keys."""

    def __init__(self, width: int = IMAGENET_WIDTH, num_classes: int = 1000, in_channels: int = 3) -> None:
        super().__init__()
        self.width = width
        _add_stem(self, width, in_channels)
        self.layer2 = make_stage(2, width)
        self.layer3 = make_stage(3, width)
        self.layer4 = make_stage(4, width)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(stage_channels(4, width), num_classes)
        init_weights(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        x = self.layer4(self.layer3(self.layer2(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def read_resnet18_state(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a torchvision resnet18 state dict from a local file, tensors only.

    ``weights_only=True`` means the file cannot run code while it is read: a checkpoint from the
    internet is data, not a program.
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise ValueError(
            f"{path}: expected a resnet18 state dict (a mapping of parameter names to tensors, as "
            f"torch.save(model.state_dict()) writes), got {type(state).__name__}"
        )
    return dict(state)


def load_imagenet_weights(
    module: nn.Module,
    source: str | os.PathLike | Mapping[str, Tensor],
    *,
    prefix: str = "",
    name: str | None = None,
) -> None:
    """Copy torchvision resnet18 tensors into ``module``: its key ``k`` is read from the file's ``prefix + k``.

    ``source`` is a file path or a state dict already read with :func:`read_resnet18_state` (SD-Net
    loads one file into many pieces and reads it once); ``name`` names that state in errors. Every key
    of ``module`` must exist in the source with the same shape, otherwise nothing is copied and a
    ValueError names the file and the first key that does not fit. Only ``num_batches_tracked`` may be
    missing (files saved before PyTorch 0.4 have none); keys of the file the module lacks (``fc``) are
    ignored.
    """
    state: Mapping[str, Tensor]
    if isinstance(source, (str, os.PathLike)):
        state, name = read_resnet18_state(source), str(source)
    else:
        state, name = source, name or "<state dict>"
    own = module.state_dict()
    new: dict[str, Tensor] = {}
    for key, tensor in own.items():
        file_key = prefix + key
        if file_key not in state:
            if key.endswith("num_batches_tracked"):
                new[key] = tensor
                continue
            raise ValueError(f"{name}: cannot load ResNet-18 weights: key {file_key!r} is missing from the file")
        if tuple(state[file_key].shape) != tuple(tensor.shape):
            raise ValueError(
                f"{name}: cannot load ResNet-18 weights: key {file_key!r} has shape {tuple(state[file_key].shape)} "
                f"in the file but {tuple(tensor.shape)} in the model (ImageNet weights need width={IMAGENET_WIDTH})"
            )
        new[key] = state[file_key]
    module.load_state_dict(new, strict=True)
