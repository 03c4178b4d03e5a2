"""SD-Net: static and dynamic ResNet-18 branches per modality, fused by a partially shared branch.

Per modality m (``rgb``, ``depth``, ``ir``):

* a **static** branch (input: the window's centre frame, ``batch[m]``) and a **dynamic** branch (input:
  its dynamic image, ``batch[m + "_di"]``), each a ResNet-18 stem + res1 followed by res2-res4;
* a **static-dynamic** branch: res2-res4 on the sum of the two res1 outputs, so appearance and motion
  are mixed early as well as late;
* each of the three branches pools globally and has its own one-logit classifier, and a **fused**
  classifier reads the sum of the three pooled features.

Across modalities, a **shared** branch (res2-res4 only, no stem) fuses them at every level:

* forward feeding: shared block t+1 takes Σ_m (static_m + dynamic_m features at level t) plus the
  shared output at level t (zero at level 1, so shared res2 reads Σ_m of the res1 outputs);
* backward feeding: at levels 2 and 3 the shared output is added to every static and dynamic feature
  before it enters res3 / res4. The forward sums use the features *before* that addition.

**Final head** (``final_head``), the one SD-Net's score comes from:

* ``whole`` (the paper's, the default): one classifier on the sum of the pooled features of *every*
  branch — static, dynamic and static-dynamic of every modality, and the shared branch. The paper's
  whole-network loss "is based on the summed features from all branches" (CeFA, WACV 2021, Sec. 4.1):
  all branches, so each modality contributes its three branches, not only its static-dynamic one.
  The shared branch then has no classifier of its own, as in the paper;
* ``shared`` (an ablation): a classifier on the pooled shared features alone.

Every classifier has a binary cross-entropy loss (target 1 = bona fide); the total is their sum: the
final head's plus four per modality, 13 terms for three modalities.

Ablations (constructor switches): ``static=False`` / ``dynamic=False`` keep a single branch per
modality; the static-dynamic branch exists only when both are on. **Fused-head rule:** the fused
classifier exists only together with the static-dynamic branch, i.e. when a modality has all three
branches. With one branch, a fused head would be a second linear classifier on the very same pooled
feature, adding a duplicate loss and nothing else, so the modality then has exactly one head (its
``static`` or ``dynamic`` head) and that head is the modality's decision head. ``shared=False`` removes
the shared branch (and with it both feedings). The same duplicate rule holds for the whole head: with
one modality and no shared branch it would read exactly what that modality's decision head reads, so
it is left out. Without a final head (that case, or ``final_head="shared"`` with ``shared=False``) the
score is the mean of the modalities' decision heads. Head counts, with M modalities and k heads per
modality (4 with all three branches, else 1): kM + 1 with a final head, kM without.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pipeline.datasets.records import MODALITIES

from .resnet import (
    IMAGENET_WIDTH,
    ResNetStem,
    load_imagenet_weights,
    make_stage,
    read_resnet18_state,
    stage_channels,
)

FEEDING_LEVELS = (2, 3)  # shared outputs added back into the modality branches after res2 and res3
FINAL_HEADS = ("whole", "shared")


class Branch(nn.Module):
    """res2-res4 of ResNet-18 with global average pooling and a one-logit classifier.

    With ``stem=True`` it also owns a stem + res1 (static and dynamic branches see images); without one
    (static-dynamic and shared branches) it starts from res1-level features made elsewhere. With
    ``head=False`` (the shared branch under the whole head) it has no classifier of its own. The
    forward pass is driven stage by stage from :class:`SDNet`, because the shared branch reads and
    writes features between stages; hence no ``forward`` here.
    """

    def __init__(self, width: int, stem: bool, head: bool = True) -> None:
        super().__init__()
        self.stem = ResNetStem(width) if stem else None
        self.layer2 = make_stage(2, width)
        self.layer3 = make_stage(3, width)
        self.layer4 = make_stage(4, width)
        self.head = nn.Linear(stage_channels(4, width), 1) if head else None

    def res1(self, image: Tensor) -> Tensor:
        assert self.stem is not None, "a branch without a stem starts from res1 features"
        return self.stem(image)

    def stage(self, level: int, x: Tensor) -> Tensor:
        """Run ``layer{level}`` (level 2, 3 or 4, the paper's res2 … res4)."""
        return getattr(self, f"layer{level}")(x)

    def run(self, x: Tensor) -> Tensor:
        """res2 → res4 → pooled features, for a branch that exchanges nothing on the way."""
        for level in (2, 3, 4):
            x = self.stage(level, x)
        return pool(x)

    def classify(self, pooled: Tensor) -> Tensor:
        assert self.head is not None, "this branch has no classifier of its own"
        return self.head(pooled).squeeze(1)

    def load_imagenet(self, state: Mapping[str, Tensor], name: str) -> None:
        """Copy torchvision resnet18 weights into the stem/res1 and res2-res4 (the head stays as it is)."""
        if self.stem is not None:
            load_imagenet_weights(self.stem, state, name=name)
        for level in (2, 3, 4):
            load_imagenet_weights(self.get_submodule(f"layer{level}"), state, prefix=f"layer{level}.", name=name)


def pool(x: Tensor) -> Tensor:
    """Global average pooling to a (B, C) feature."""
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class ModalityStreams(nn.Module):
    """The branches of one modality; which exist follows the ablation switches (see the module doc)."""

    def __init__(self, width: int, static: bool, dynamic: bool) -> None:
        super().__init__()
        self.static = Branch(width, stem=True) if static else None
        self.dynamic = Branch(width, stem=True) if dynamic else None
        both = static and dynamic
        self.static_dynamic = Branch(width, stem=False) if both else None
        self.fused = nn.Linear(stage_channels(4, width), 1) if both else None

    def branch(self, kind: str) -> Branch:
        """The ``static``, ``dynamic`` or ``static_dynamic`` branch (``get_submodule`` types it as a plain Module)."""
        return cast(Branch, self.get_submodule(kind))

    def fed_branches(self) -> dict[str, Branch]:
        """The branches with a stem: they take part in forward and backward feeding."""
        return {k: b for k, b in (("static", self.static), ("dynamic", self.dynamic)) if b is not None}


class SDNet(nn.Module):
    """SD-Net (static + dynamic, multi-modal) for face presentation-attack detection.

    ``forward(batch)`` takes ``batch[m]`` (static image) and ``batch[m + "_di"]`` (dynamic image),
    each (B, 3, H, W) float, for every modality m of the model (grey depth / IR replicated to three
    channels; H = W = 112 normally, any size ≥ 32 works), and returns one logit of shape (B,) per
    head: ``{m}/static``, ``{m}/dynamic``, ``{m}/static_dynamic``, ``{m}/fused`` and the final head
    (``whole`` or ``shared``) — those that exist under the switches, in that order
    (:attr:`head_names`). Positive logits mean bona fide. Extra batch keys (labels, other
    modalities) are ignored.
    """

    def __init__(
        self,
        modalities: Iterable[str] | str = MODALITIES,
        width: int = IMAGENET_WIDTH,
        static: bool = True,
        dynamic: bool = True,
        shared: bool = True,
        forward_feeding: bool = True,
        backward_feeding: bool = True,
        final_head: str = "whole",
    ) -> None:
        super().__init__()
        self.modalities = _check_modalities(modalities)
        if not (static or dynamic):
            raise ValueError("SDNet needs the static branch, the dynamic branch or both; "
                             "got static=False, dynamic=False")
        if width < 1:
            raise ValueError(f"width must be a positive number of channels, got {width!r}")
        if final_head not in FINAL_HEADS:
            raise ValueError(f"unknown final_head {final_head!r}: expected one of {FINAL_HEADS}")
        self.width, self.final_head = width, final_head
        self.use_static, self.use_dynamic, self.use_shared = static, dynamic, shared
        self.forward_feeding, self.backward_feeding = forward_feeding, backward_feeding
        self.streams = nn.ModuleDict({m: ModalityStreams(width, static, dynamic) for m in self.modalities})
        self.shared = Branch(width, stem=False, head=final_head == "shared") if shared else None
        # one modality without a shared branch: the whole head would duplicate its decision head
        reads_several = shared or len(self.modalities) > 1
        self.whole = nn.Linear(stage_channels(4, width), 1) if final_head == "whole" and reads_several else None

    def _streams(self) -> dict[str, ModalityStreams]:
        """``streams`` by modality, typed (nn.ModuleDict types its values as plain Modules)."""
        return {m: cast(ModalityStreams, streams) for m, streams in self.streams.items()}

    def config(self) -> dict[str, object]:
        """Constructor arguments, to store beside a checkpoint so the same network can be rebuilt."""
        return {"modalities": list(self.modalities), "width": self.width, "static": self.use_static,
                "dynamic": self.use_dynamic, "shared": self.use_shared,
                "forward_feeding": self.forward_feeding, "backward_feeding": self.backward_feeding,
                "final_head": self.final_head}

    @property
    def score_head(self) -> str | None:
        """The head whose probability is the score (``whole`` or ``shared``); None: no final head exists."""
        if self.whole is not None:
            return "whole"
        return "shared" if self.shared is not None and self.shared.head is not None else None

    @property
    def head_names(self) -> list[str]:
        """The keys ``forward`` returns, which are also the loss terms."""
        names = []
        for m, streams in self._streams().items():
            kinds = ("static", "dynamic", "static_dynamic", "fused")
            names += [f"{m}/{k}" for k in kinds if getattr(streams, k) is not None]
        return names + ([self.score_head] if self.score_head else [])

    def decision_head(self, modality: str) -> str:
        """The head that speaks for one modality: ``fused`` when it exists, else its single branch's head."""
        streams = self._streams()[modality]
        return f"{modality}/" + ("fused" if streams.fused is not None else next(iter(streams.fed_branches())))

    def forward(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        features = self._res1(batch)  # features[m][kind] at the current level, before backward feeding
        logits: dict[str, Tensor] = {}
        sd_pooled = self._static_dynamic(features, logits)
        shared_out: Tensor | None = None  # the shared branch's output at the current level (zero at level 1)
        for level in (2, 3, 4):
            # backward feeding: the shared output of level − 1 joins the input of this level's blocks
            fed = shared_out if self.backward_feeding and level - 1 in FEEDING_LEVELS else None
            if self.shared is not None:
                shared_out = self._shared_stage(level, features, shared_out)  # reads features before `fed`
            features = {m: self._modality_stage(m, level, f, fed) for m, f in features.items()}
        branch_features = []  # the pooled features of every branch, which the whole head sums
        for m, streams in self._streams().items():
            pooled = {kind: pool(x) for kind, x in features[m].items()}
            for kind, p in pooled.items():
                logits[f"{m}/{kind}"] = streams.branch(kind).classify(p)
            branch_features += [*pooled.values(), *([sd_pooled[m]] if m in sd_pooled else [])]
            if streams.fused is not None:
                total = pooled["static"] + pooled["dynamic"] + sd_pooled[m]
                logits[f"{m}/fused"] = streams.fused(total).squeeze(1)
        if self.shared is not None:
            assert shared_out is not None  # every level ran the shared stage
            branch_features.append(pool(shared_out))
            if self.shared.head is not None:
                logits["shared"] = self.shared.classify(branch_features[-1])
        if self.whole is not None:
            logits["whole"] = self.whole(sum(branch_features)).squeeze(1)
        return {name: logits[name] for name in self.head_names}

    def _res1(self, batch: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
        """Stem + res1 of every static and dynamic branch."""
        inputs = {"static": "{m}", "dynamic": "{m}_di"}
        features: dict[str, dict[str, Tensor]] = {}
        for m, streams in self._streams().items():
            features[m] = {}
            for kind, branch in streams.fed_branches().items():
                key = inputs[kind].format(m=m)
                if key not in batch:
                    raise KeyError(f"SDNet input {key!r} missing from the batch (it has {sorted(batch)})")
                features[m][kind] = branch.res1(batch[key])
        return features

    def _static_dynamic(
        self, features: Mapping[str, Mapping[str, Tensor]], logits: dict[str, Tensor]
    ) -> dict[str, Tensor]:
        """Run every static-dynamic branch on static res1 + dynamic res1; returns its pooled features."""
        pooled = {}
        for m, streams in self._streams().items():
            if streams.static_dynamic is not None:
                pooled[m] = streams.static_dynamic.run(features[m]["static"] + features[m]["dynamic"])
                logits[f"{m}/static_dynamic"] = streams.static_dynamic.classify(pooled[m])
        return pooled

    def _modality_stage(
        self, modality: str, level: int, features: Mapping[str, Tensor], fed: Tensor | None
    ) -> dict[str, Tensor]:
        """Block ``level`` of the static and dynamic branches of one modality, plus what is fed back."""
        streams = self._streams()[modality]
        return {
            kind: streams.branch(kind).stage(level, x if fed is None else x + fed)
            for kind, x in features.items()
        }

    def _shared_stage(
        self, level: int, features: Mapping[str, Mapping[str, Tensor]], previous: Tensor | None
    ) -> Tensor:
        """Shared block ``level``: Σ modality features of level − 1 (forward feeding) + its own previous output."""
        x = previous
        if level == 2 or self.forward_feeding:
            total = cast(Tensor, sum(t for per_modality in features.values() for t in per_modality.values()))
            x = total if x is None else total + x
        assert self.shared is not None and x is not None
        return self.shared.stage(level, x)

    def loss(self, logits: Mapping[str, Tensor], target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Sum of every head's binary cross-entropy (target 1 = bona fide), and each term detached for logging."""
        terms = {}
        for name, logit in logits.items():
            if target.numel() != logit.numel():
                raise ValueError(f"target has {target.numel()} values but head {name!r} has {logit.numel()} logits")
            terms[name] = F.binary_cross_entropy_with_logits(logit, target.reshape(logit.shape).to(logit.dtype))
        total = torch.stack(list(terms.values())).sum()
        return total, {name: term.detach() for name, term in terms.items()}

    def score(self, logits: Mapping[str, Tensor]) -> Tensor:
        """Bona fide probability (B,): sigmoid of the final head (:attr:`score_head`), else the mean
        sigmoid of the modalities' decision heads."""
        if self.score_head is not None:
            return torch.sigmoid(logits[self.score_head])
        return torch.stack([torch.sigmoid(logits[self.decision_head(m)]) for m in self.modalities]).mean(0)

    def load_imagenet(self, path: str | os.PathLike) -> None:
        """Copy torchvision resnet18 ImageNet weights from a local file into every stem/res1 and res2-res4.

        Classifiers, the whole head among them, keep their fresh initialisation (ImageNet's ``fc`` has
        1000 outputs). Only the real ResNet-18 (``width=64``) has the shapes the weights fit.
        """
        if self.width != IMAGENET_WIDTH:
            raise ValueError(
                f"{path}: ImageNet ResNet-18 weights need width={IMAGENET_WIDTH}; this SDNet has width={self.width}"
            )
        state = read_resnet18_state(path)
        for streams in self._streams().values():
            for branch in (streams.static, streams.dynamic, streams.static_dynamic):
                if branch is not None:
                    branch.load_imagenet(state, str(path))
        if self.shared is not None:
            self.shared.load_imagenet(state, str(path))


def _check_modalities(modalities: Iterable[str] | str) -> tuple[str, ...]:
    names = (modalities,) if isinstance(modalities, str) else tuple(modalities)
    if not names:
        raise ValueError(f"SDNet needs at least one modality out of {MODALITIES}")
    unknown = [m for m in names if m not in MODALITIES]
    if unknown:
        raise ValueError(f"unknown modality {unknown[0]!r}; expected a subset of {MODALITIES}")
    if len(set(names)) != len(names):
        raise ValueError(f"modalities listed twice: {names}")
    return names
