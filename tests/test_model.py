"""SD-Net and its ResNet-18: heads under every ablation, feeding wiring, gradients, torchvision names, weight loading.

Small widths (8) and 32-48 px inputs keep the suite fast on a CPU; torchvision is not installed, so its
resnet18 key list is written out below.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from training.model import SDNet
from training.resnet import ResNet18, ResNetStem, load_imagenet_weights, make_stage, read_resnet18_state

ALL = ("rgb", "depth", "ir")
KINDS = ("static", "dynamic", "static_dynamic", "fused")

# torchvision.models.resnet18().state_dict().keys(), in order (122 keys; one module per line, a BatchNorm's
# parameters and buffers on two)
TORCHVISION_RESNET18_KEYS = """
    conv1.weight
    bn1.weight bn1.bias
    bn1.running_mean bn1.running_var bn1.num_batches_tracked
    layer1.0.conv1.weight
    layer1.0.bn1.weight layer1.0.bn1.bias
    layer1.0.bn1.running_mean layer1.0.bn1.running_var layer1.0.bn1.num_batches_tracked
    layer1.0.conv2.weight
    layer1.0.bn2.weight layer1.0.bn2.bias
    layer1.0.bn2.running_mean layer1.0.bn2.running_var layer1.0.bn2.num_batches_tracked
    layer1.1.conv1.weight
    layer1.1.bn1.weight layer1.1.bn1.bias
    layer1.1.bn1.running_mean layer1.1.bn1.running_var layer1.1.bn1.num_batches_tracked
    layer1.1.conv2.weight
    layer1.1.bn2.weight layer1.1.bn2.bias
    layer1.1.bn2.running_mean layer1.1.bn2.running_var layer1.1.bn2.num_batches_tracked
    layer2.0.conv1.weight
    layer2.0.bn1.weight layer2.0.bn1.bias
    layer2.0.bn1.running_mean layer2.0.bn1.running_var layer2.0.bn1.num_batches_tracked
    layer2.0.conv2.weight
    layer2.0.bn2.weight layer2.0.bn2.bias
    layer2.0.bn2.running_mean layer2.0.bn2.running_var layer2.0.bn2.num_batches_tracked
    layer2.0.downsample.0.weight
    layer2.0.downsample.1.weight layer2.0.downsample.1.bias
    layer2.0.downsample.1.running_mean layer2.0.downsample.1.running_var layer2.0.downsample.1.num_batches_tracked
    layer2.1.conv1.weight
    layer2.1.bn1.weight layer2.1.bn1.bias
    layer2.1.bn1.running_mean layer2.1.bn1.running_var layer2.1.bn1.num_batches_tracked
    layer2.1.conv2.weight
    layer2.1.bn2.weight layer2.1.bn2.bias
    layer2.1.bn2.running_mean layer2.1.bn2.running_var layer2.1.bn2.num_batches_tracked
    layer3.0.conv1.weight
    layer3.0.bn1.weight layer3.0.bn1.bias
    layer3.0.bn1.running_mean layer3.0.bn1.running_var layer3.0.bn1.num_batches_tracked
    layer3.0.conv2.weight
    layer3.0.bn2.weight layer3.0.bn2.bias
    layer3.0.bn2.running_mean layer3.0.bn2.running_var layer3.0.bn2.num_batches_tracked
    layer3.0.downsample.0.weight
    layer3.0.downsample.1.weight layer3.0.downsample.1.bias
    layer3.0.downsample.1.running_mean layer3.0.downsample.1.running_var layer3.0.downsample.1.num_batches_tracked
    layer3.1.conv1.weight
    layer3.1.bn1.weight layer3.1.bn1.bias
    layer3.1.bn1.running_mean layer3.1.bn1.running_var layer3.1.bn1.num_batches_tracked
    layer3.1.conv2.weight
    layer3.1.bn2.weight layer3.1.bn2.bias
    layer3.1.bn2.running_mean layer3.1.bn2.running_var layer3.1.bn2.num_batches_tracked
    layer4.0.conv1.weight
    layer4.0.bn1.weight layer4.0.bn1.bias
    layer4.0.bn1.running_mean layer4.0.bn1.running_var layer4.0.bn1.num_batches_tracked
    layer4.0.conv2.weight
    layer4.0.bn2.weight layer4.0.bn2.bias
    layer4.0.bn2.running_mean layer4.0.bn2.running_var layer4.0.bn2.num_batches_tracked
    layer4.0.downsample.0.weight
    layer4.0.downsample.1.weight layer4.0.downsample.1.bias
    layer4.0.downsample.1.running_mean layer4.0.downsample.1.running_var layer4.0.downsample.1.num_batches_tracked
    layer4.1.conv1.weight
    layer4.1.bn1.weight layer4.1.bn1.bias
    layer4.1.bn1.running_mean layer4.1.bn1.running_var layer4.1.bn1.num_batches_tracked
    layer4.1.conv2.weight
    layer4.1.bn2.weight layer4.1.bn2.bias
    layer4.1.bn2.running_mean layer4.1.bn2.running_var layer4.1.bn2.num_batches_tracked
    fc.weight fc.bias
""".split()

# a few torchvision resnet18 shapes, and its parameter count (torchvision's documented 11,689,512)
TORCHVISION_SHAPES = {
    "conv1.weight": (64, 3, 7, 7),
    "layer1.0.conv1.weight": (64, 64, 3, 3),
    "layer2.0.conv1.weight": (128, 64, 3, 3),
    "layer2.0.downsample.0.weight": (128, 64, 1, 1),
    "layer3.1.bn2.running_var": (256,),
    "layer4.0.downsample.1.weight": (512,),
    "fc.weight": (1000, 512),
    "fc.bias": (1000,),
}
TORCHVISION_RESNET18_PARAMETERS = 11_689_512


def make_batch(modalities=ALL, size=(32, 32), batch=2, seed=0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for m in modalities:
        out[m] = torch.randn(batch, 3, *size, generator=g)
        out[f"{m}_di"] = torch.randn(batch, 3, *size, generator=g)
    return out


def model(seed=0, **kwargs) -> SDNet:
    torch.manual_seed(seed)
    return SDNet(width=8, **kwargs).eval()


def logits_of(net: SDNet, batch) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return net(batch)


# ---------------------------------------------------------------- heads, shapes, losses


@pytest.mark.parametrize("modalities", [("rgb",), ("depth",), ALL, ("ir", "rgb")])
@pytest.mark.parametrize("size", [(32, 32), (48, 48), (40, 56)])
def test_output_keys_and_shapes(modalities, size):
    out = logits_of(model(modalities=modalities), make_batch(modalities, size))
    expected = [f"{m}/{k}" for m in modalities for k in KINDS] + ["whole"]
    assert list(out) == expected
    assert all(v.shape == (2,) and v.dtype == torch.float32 for v in out.values())


def test_full_size_input_three_modalities():
    out = logits_of(model(), make_batch(ALL, (112, 112)))
    assert len(out) == 13 and all(v.shape == (2,) and torch.isfinite(v).all() for v in out.values())


@pytest.mark.parametrize("modalities, terms", [(ALL, 13), (("rgb",), 5), (("rgb", "ir"), 9)])
def test_loss_has_four_terms_per_modality_plus_the_whole_network_term(modalities, terms):
    net = model(modalities=modalities)
    out = net(make_batch(modalities))
    total, parts = net.loss(out, torch.tensor([1, 0]))
    assert len(parts) == terms and set(parts) == set(out)
    assert torch.allclose(total, sum(parts.values()))
    assert total.requires_grad and not any(p.requires_grad for p in parts.values())


def test_loss_values_by_hand():
    net = model()
    zeros = {name: torch.zeros(2) for name in net.head_names}
    total, parts = net.loss(zeros, torch.tensor([1.0, 0.0]))
    assert total.item() == pytest.approx(13 * math.log(2), rel=1e-6)
    logits = dict(zeros, whole=torch.tensor([2.0, 2.0]))  # BCE(2, 1) = log(1 + e^-2); BCE(2, 0) = log(1 + e^2)
    _, parts = net.loss(logits, torch.tensor([1, 0]))
    expected = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(2))) / 2
    assert parts["whole"].item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="target has 3 values"):
        net.loss(zeros, torch.tensor([1.0, 0.0, 1.0]))


@pytest.mark.parametrize(
    "kwargs, per_modality",
    [
        (dict(), KINDS),
        (dict(dynamic=False), ("static",)),
        (dict(static=False), ("dynamic",)),
        (dict(shared=False), KINDS),
        (dict(dynamic=False, shared=False), ("static",)),
        (dict(final_head="shared"), KINDS),
        (dict(final_head="shared", shared=False), KINDS),
    ],
)
@pytest.mark.parametrize("modalities", [ALL, ("rgb",)])
def test_ablations_give_the_documented_heads(kwargs, per_modality, modalities):
    # fused-head rule: the fused head exists only with all three branches; a single branch is its own decision head.
    # final head: whole (unless one modality without a shared branch, where it would duplicate the decision
    # head), or shared (only with the shared branch)
    net = model(modalities=modalities, **kwargs)
    out = logits_of(net, make_batch(modalities))
    shared = kwargs.get("shared", True)
    if kwargs.get("final_head", "whole") == "whole":
        final = ["whole"] if shared or len(modalities) > 1 else []
    else:
        final = ["shared"] if shared else []
    assert list(out) == [f"{m}/{k}" for m in modalities for k in per_modality] + final
    assert net.head_names == list(out) and net.score_head == (final[0] if final else None)
    _, parts = net.loss(out, torch.ones(2))
    assert len(parts) == len(modalities) * len(per_modality) + len(final)
    names = {name.split(".")[2] for name, _ in net.named_parameters() if name.startswith("streams.")}
    assert names == {k for k in per_modality if k != "fused"} | ({"fused"} if "fused" in per_modality else set())
    assert any(name.startswith("whole.") for name, _ in net.named_parameters()) == (final == ["whole"])
    assert any(name.startswith("shared.head.") for name, _ in net.named_parameters()) == (final == ["shared"])


def test_static_only_three_modalities_has_four_heads():
    out = logits_of(model(dynamic=False), make_batch())
    assert sorted(out) == ["depth/static", "ir/static", "rgb/static", "whole"]


def test_score_rule():
    batch = make_batch()
    net = model()
    out = logits_of(net, batch)
    torch.testing.assert_close(net.score(out), torch.sigmoid(out["whole"]))
    net = model(final_head="shared")
    out = logits_of(net, batch)
    torch.testing.assert_close(net.score(out), torch.sigmoid(out["shared"]))
    net = model(shared=False)  # three modalities: the whole head reads the modality branches alone
    out = logits_of(net, batch)
    torch.testing.assert_close(net.score(out), torch.sigmoid(out["whole"]))
    net = model(shared=False, final_head="shared")  # no final head: the mean of the decision heads
    out = logits_of(net, batch)
    expected = (torch.sigmoid(out["rgb/fused"]) + torch.sigmoid(out["depth/fused"])
                + torch.sigmoid(out["ir/fused"])) / 3
    torch.testing.assert_close(net.score(out), expected)
    net = model(modalities=("rgb", "ir"), static=False, shared=False, final_head="shared")
    out = logits_of(net, make_batch(("rgb", "ir")))
    torch.testing.assert_close(net.score(out),
                               (torch.sigmoid(out["rgb/dynamic"]) + torch.sigmoid(out["ir/dynamic"])) / 2)
    net = model(modalities=("rgb",), shared=False)  # the whole head would duplicate rgb/fused
    out = logits_of(net, make_batch(("rgb",)))
    torch.testing.assert_close(net.score(out), torch.sigmoid(out["rgb/fused"]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(modalities=()), "at least one modality"),
        (dict(modalities=("rgb", "thermal")), "unknown modality 'thermal'"),
        (dict(modalities=("rgb", "rgb")), "twice"),
        (dict(static=False, dynamic=False), "static branch, the dynamic branch or both"),
        (dict(width=0), "width"),
        (dict(final_head="fused"), "unknown final_head 'fused'"),
    ],
)
def test_impossible_configurations_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SDNet(**{"width": 8, **kwargs})


def test_missing_input_is_named():
    with pytest.raises(KeyError, match="depth_di"):
        model(modalities=("rgb", "depth"))({k: v for k, v in make_batch(("rgb", "depth")).items() if k != "depth_di"})


@pytest.mark.parametrize("final_head", ["whole", "shared"])
def test_config_rebuilds_the_same_network(final_head):
    net = model(modalities=("ir", "rgb"), dynamic=False, forward_feeding=False, final_head=final_head)
    again = SDNet(**net.config())
    assert again.config() == net.config() and list(again.state_dict()) == list(net.state_dict())


# ---------------------------------------------------------------- feeding is wired as DESIGN.md §4 says


def capture(net: SDNet) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of every stem, res2-res4 block and classifier of the network, by module name."""
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for name, module in net.named_modules():
        if name.endswith((".stem", ".layer2", ".layer3", ".layer4", ".fused", ".head")) or name == "whole":
            def hook(mod, args, output, name=name):
                seen[name] = (args[0].clone(), output.clone())
            module.register_forward_hook(hook)
    return seen


def pooled(x: torch.Tensor) -> torch.Tensor:
    return x.mean(dim=(2, 3))


def test_forward_and_backward_feeding_follow_the_design():
    net = model()
    seen = capture(net)
    logits_of(net, make_batch())
    inp = lambda name: seen[name][0]  # noqa: E731
    out = lambda name: seen[name][1]  # noqa: E731
    level = {1: "stem", 2: "layer2", 3: "layer3", 4: "layer4"}

    def modality_sum(t):
        return sum(out(f"streams.{m}.{k}.{level[t]}") for m in ALL for k in ("static", "dynamic"))

    close = torch.testing.assert_close
    close(inp("shared.layer2"), modality_sum(1))  # shared output is zero at level 1
    close(inp("shared.layer3"), modality_sum(2) + out("shared.layer2"))
    close(inp("shared.layer4"), modality_sum(3) + out("shared.layer3"))
    for m in ALL:
        s, d = f"streams.{m}.static", f"streams.{m}.dynamic"
        close(inp(f"streams.{m}.static_dynamic.layer2"), out(f"{s}.stem") + out(f"{d}.stem"))
        for branch in (s, d):
            close(inp(f"{branch}.layer2"), out(f"{branch}.stem"))  # nothing fed back at level 1
            close(inp(f"{branch}.layer3"), out(f"{branch}.layer2") + out("shared.layer2"))
            close(inp(f"{branch}.layer4"), out(f"{branch}.layer3") + out("shared.layer3"))
            close(inp(f"{branch}.head"), pooled(out(f"{branch}.layer4")))
        sd = f"streams.{m}.static_dynamic"
        close(inp(f"{sd}.head"), pooled(out(f"{sd}.layer4")))
        close(inp(f"streams.{m}.fused"), sum(pooled(out(f"{b}.layer4")) for b in (s, d, sd)))
    # the whole-network head: the summed pooled features of every branch of every modality, and of the shared one
    every_branch = [f"streams.{m}.{k}" for m in ALL for k in ("static", "dynamic", "static_dynamic")] + ["shared"]
    close(inp("whole"), sum(pooled(out(f"{b}.layer4")) for b in every_branch))


def test_the_shared_final_head_reads_the_shared_branch():
    net = model(final_head="shared")
    seen = capture(net)
    logits_of(net, make_batch())
    torch.testing.assert_close(seen["shared.head"][0], pooled(seen["shared.layer4"][1]))


@pytest.mark.parametrize("modalities", [ALL, ("rgb",)])
def test_every_branch_moves_the_whole_head_and_only_its_own_heads(modalities):
    """Adding c to one branch's res4 output shifts its pooled features by c in every channel. Nothing but
    classifiers reads res4, so the whole-network logit moves by exactly c · Σ w (w: the whole head's
    weights) whichever branch it is, the branch's own head and its modality's fused head move too, and
    every other head keeps its logit. Under the shared final head only the shared branch moves the score."""
    c = 0.5
    batch = make_batch(modalities)
    own_heads = {f"streams.{m}.{k}": {f"{m}/{k}", f"{m}/fused"} for m in modalities
                 for k in ("static", "dynamic", "static_dynamic")}
    for final_head in ("whole", "shared"):
        net = model(modalities=modalities, final_head=final_head)
        base = logits_of(net, batch)
        for branch in [*own_heads, "shared"]:
            handle = net.get_submodule(f"{branch}.layer4").register_forward_hook(lambda mod, args, out: out + c)
            moved = logits_of(net, batch)
            handle.remove()
            if final_head == "whole":
                expected_shift = torch.full((2,), c * net.whole.weight.sum().item())
                torch.testing.assert_close(moved["whole"] - base["whole"], expected_shift, rtol=1e-4, atol=1e-5)
            changed = own_heads.get(branch, {"shared"}) | ({"whole"} if final_head == "whole" else set())
            for head in base:
                same = torch.allclose(moved[head], base[head])
                assert same == (head not in changed), (final_head, branch, head)


def test_switched_off_feedings_are_really_off():
    net = model(forward_feeding=False, backward_feeding=False)
    seen = capture(net)
    logits_of(net, make_batch())
    torch.testing.assert_close(seen["shared.layer3"][0], seen["shared.layer2"][1])
    torch.testing.assert_close(seen["shared.layer4"][0], seen["shared.layer3"][1])
    torch.testing.assert_close(seen["streams.rgb.static.layer3"][0], seen["streams.rgb.static.layer2"][1])


def same_weights(**kwargs) -> SDNet:
    reference = model()
    net = SDNet(width=8, **kwargs).eval()
    net.load_state_dict(reference.state_dict(), strict=False)
    return net


def test_backward_feeding_changes_the_static_logits():
    batch = make_batch()
    on, off = logits_of(model(), batch), logits_of(same_weights(backward_feeding=False), batch)
    for m in ALL:
        assert not torch.allclose(on[f"{m}/static"], off[f"{m}/static"])
        assert not torch.allclose(on[f"{m}/dynamic"], off[f"{m}/dynamic"])
        torch.testing.assert_close(on[f"{m}/static_dynamic"], off[f"{m}/static_dynamic"])  # never fed
    # without feeding back, a modality's branches are exactly those of a model with no shared branch
    alone = logits_of(same_weights(shared=False), batch)
    for name in alone.keys() - {"whole"}:  # the whole head reads the shared branch too, when there is one
        torch.testing.assert_close(off[name], alone[name])


def test_forward_feeding_changes_the_whole_logit():
    batch = make_batch()
    on, off = logits_of(model(), batch), logits_of(same_weights(forward_feeding=False), batch)
    assert not torch.allclose(on["whole"], off["whole"])


def test_shared_logit_depends_on_every_modality():
    net = model(final_head="shared")
    batch = make_batch()
    base = logits_of(net, batch)
    for key in make_batch():
        changed = dict(batch, **{key: batch[key] + torch.randn_like(batch[key])})
        assert not torch.allclose(logits_of(net, changed)["shared"], base["shared"]), key
    # through backward feeding, depth reaches the rgb static head too; without it, it cannot
    changed = dict(batch, depth=batch["depth"] + 1)
    assert not torch.allclose(logits_of(net, changed)["rgb/static"], base["rgb/static"])
    off = same_weights(backward_feeding=False)
    torch.testing.assert_close(logits_of(off, changed)["rgb/static"], logits_of(off, batch)["rgb/static"])


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(forward_feeding=False, backward_feeding=False), dict(dynamic=False), dict(static=False, shared=False),
     dict(final_head="shared")],
)
def test_gradients_reach_every_parameter(kwargs):
    torch.manual_seed(0)
    net = SDNet(width=8, **kwargs).train()
    out = net(make_batch(size=(48, 48)))
    loss, _ = net.loss(out, torch.tensor([1.0, 0.0]))
    loss.backward()
    dead = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert dead == []


# ---------------------------------------------------------------- ResNet-18 names and ImageNet weights


def test_resnet18_has_torchvision_keys_shapes_and_size():
    assert len(TORCHVISION_RESNET18_KEYS) == 122
    net = ResNet18(width=64)
    state = net.state_dict()
    assert list(state) == TORCHVISION_RESNET18_KEYS
    for key, shape in TORCHVISION_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert sum(p.numel() for p in net.parameters()) == TORCHVISION_RESNET18_PARAMETERS
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 1000)


def test_pieces_use_torchvision_names():
    stem_keys = [k for k in TORCHVISION_RESNET18_KEYS if k.split(".")[0] in ("conv1", "bn1", "layer1")]
    assert list(ResNetStem(width=8).state_dict()) == stem_keys
    for level in (2, 3, 4):
        prefix = f"layer{level}."
        assert [prefix + k for k in make_stage(level, 8).state_dict()] == [
            k for k in TORCHVISION_RESNET18_KEYS if k.startswith(prefix)
        ]
    # inside SD-Net every branch is "<stem.>torchvision-name" or "head."
    for name in model().state_dict():
        branch_key = name.split(".", 3)[-1] if name.startswith("streams.") else name.split(".", 1)[-1]
        branch_key = branch_key.removeprefix("stem.")
        assert branch_key in TORCHVISION_RESNET18_KEYS or branch_key.split(".")[0] in ("head", "weight", "bias"), name


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory) -> Path:
    """A width-64 ResNet-18 state dict on disk, with non-default BatchNorm statistics so copies are visible."""
    torch.manual_seed(1)
    net = ResNet18(width=64)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
            module.num_batches_tracked.fill_(7)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(net.state_dict(), path)
    return path


def test_load_imagenet_fills_every_resnet_piece(resnet_file):
    torch.manual_seed(2)
    net = SDNet(modalities=("rgb", "depth"), width=64)
    heads = {k: v.clone() for k, v in net.state_dict().items() if "head" in k or "fused" in k or "whole" in k}
    net.load_imagenet(str(resnet_file))
    state = read_resnet18_state(resnet_file)
    own = net.state_dict()
    torch.testing.assert_close(own["streams.rgb.static.stem.conv1.weight"], state["conv1.weight"], rtol=0, atol=0)
    pieces = [f"streams.{m}.{k}" for m in ("rgb", "depth")
              for k in ("static", "dynamic", "static_dynamic")] + ["shared"]
    copied = 0
    for piece in pieces:
        for key, value in own.items():
            if key.startswith(piece + ".") and ".head." not in key:
                local = key[len(piece) + 1:].removeprefix("stem.")
                assert torch.equal(value, state[local]), key
                copied += 1
    assert copied == 4 * 120 + 2 * (120 - 30) + 90  # 4 full trunks (no fc), 2 static-dynamic + shared without stem
    for key, value in heads.items():
        assert torch.equal(own[key], value), f"{key} must keep its own initialisation"


def test_load_imagenet_refuses_a_small_model(resnet_file):
    with pytest.raises(ValueError, match=r"resnet18\.pth.*width=64.*width=8"):
        SDNet(width=8).load_imagenet(str(resnet_file))
    with pytest.raises(ValueError, match=r"resnet18\.pth.*'conv1\.weight'.*\(64, 3, 7, 7\).*\(16, 3, 7, 7\)"):
        load_imagenet_weights(ResNet18(width=16), resnet_file)


def test_load_checks_keys_and_tolerates_old_files(resnet_file, tmp_path):
    state = read_resnet18_state(resnet_file)
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # pre-0.4 torchvision files
    torch.save(old, tmp_path / "old.pth")
    net = ResNet18(width=64)
    load_imagenet_weights(net, tmp_path / "old.pth")
    assert torch.equal(net.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    del old["layer3.1.conv2.weight"]
    torch.save(old, tmp_path / "broken.pth")
    before = ResNet18(width=64)
    reference = {k: v.clone() for k, v in before.state_dict().items()}
    with pytest.raises(ValueError, match=r"broken\.pth.*'layer3\.1\.conv2\.weight' is missing"):
        load_imagenet_weights(before, tmp_path / "broken.pth")
    assert all(torch.equal(v, reference[k]) for k, v in before.state_dict().items()), "a refused load copies nothing"
    torch.save([state["conv1.weight"]], tmp_path / "list.pth")
    with pytest.raises(ValueError, match=r"list\.pth.*state dict"):
        read_resnet18_state(tmp_path / "list.pth")


class _Payload:
    """Unpickling this would run code; weights_only loading must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (str(self.marker),)  # a builtin, so unpickling it could run anywhere


def test_weight_files_cannot_run_code(tmp_path):
    marker = tmp_path / "marker"
    torch.save({"conv1.weight": _Payload(marker)}, tmp_path / "evil.pth")
    with pytest.raises(Exception, match="Weights only load failed"):
        read_resnet18_state(tmp_path / "evil.pth")
    assert not marker.exists()
