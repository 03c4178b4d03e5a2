"""The shard-streaming loader: exactly-once evaluation, shared augmentation, nothing unpickled."""
from __future__ import annotations

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pipeline.errors import BrokenShards, UsageError
from pipeline.format.images import decode_image
from pipeline.format.splits import SplitShards
from training.augment import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, colour_jitter, geometric_matrix
from training.data import CorruptSamples, SampleDecoder, iterate_eval, loader, split_shards, train_pipeline
from training.scoring import model_inputs
from training.tar_stream import tar_samples

from .tars import write_tar


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_test_split_yields_every_sample_exactly_once(cefa_shards, workers):
    shards = split_shards(cefa_shards.manifests, "4_1", "test", cefa_shards.out)
    assert len(shards.urls) >= 2
    keys = [key for batch in iterate_eval(shards, ["rgb", "depth", "ir"], 3, workers) for key in batch["key"]]
    assert len(keys) == len(set(keys)) == shards.n_samples


def test_split_index_resolves_aliases_and_names_every_protocol_when_one_is_missing(cefa_shards):
    assert split_shards(cefa_shards.manifests, "4@1", "test").protocol == "4_1"
    assert split_shards(cefa_shards.manifests, "p4.1", "train").modalities == ("rgb", "depth", "ir")
    assert split_shards(cefa_shards.manifests, "3_1", "test").modalities == ("depth", "ir")  # cross-modality
    with pytest.raises(UsageError, match=r"no shards for protocol '9_9'; protocols with shards: .*4_1 \(4@1, p4\.1\)"):
        split_shards(cefa_shards.manifests, "9_9", "test")


def test_training_epoch_has_a_fixed_length_and_batch_shapes(cefa_shards):
    shards = split_shards(cefa_shards.manifests, "4_1", "train", cefa_shards.out)
    pipeline = train_pipeline(shards, ["rgb", "depth"], batch_size=4, epoch_samples=20, seed=1)
    batches = list(loader(pipeline, 0))
    assert len(batches) == 5  # ceil(20 / 4), whatever the split holds
    # uint8 from the workers, grey as one channel: model_inputs normalises them on the device
    assert batches[0]["rgb"].shape == (4, 3, 112, 112) and batches[0]["depth_di"].shape == (4, 1, 112, 112)
    assert batches[0]["rgb"].dtype == batches[0]["depth_di"].dtype == torch.uint8
    assert set(batches[0]) >= {"rgb", "rgb_di", "depth", "depth_di", "label", "video_id"}
    assert "ir" not in batches[0]
    again = list(loader(train_pipeline(shards, ["rgb", "depth"], batch_size=4, epoch_samples=20, seed=1), 0))
    assert [b["key"] for b in again] == [b["key"] for b in batches]  # seeded: a resumed epoch is the same epoch


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def test_one_geometric_transform_for_every_image_of_a_sample():
    pattern = np.zeros((128, 128), np.uint8)
    pattern[20:60, 30:50] = 255  # an asymmetric block: any mismatch in rotation, flip or crop shows
    sample = {"__key__": "k", "json": json.dumps({"is_bonafide": True, "video_id": "v", "attack_type": "bonafide",
                                                    "subject": "s"}).encode()}
    for name in ("rgb", "rgb_di", "depth", "depth_di", "ir", "ir_di"):
        sample[f"{name}.png"] = _png(np.dstack([pattern] * 3) if name == "rgb" else pattern)
    decoder = SampleDecoder(["rgb", "depth", "ir"], AugmentConfig(colour=0.0), train=True, seed=3)
    outputs = [decoder(dict(sample)) for _ in range(5)]
    for out in outputs:
        reference = out["rgb"][..., 0]
        for name in ("rgb_di", "depth", "depth_di", "ir", "ir_di"):  # grey ones warped four to a call
            np.testing.assert_array_equal(out[name][..., 0], reference)
    assert len({out["rgb"].tobytes() for out in outputs}) > 1  # and it is random across samples


def test_geometric_matrix_keeps_the_centre_and_crops_to_the_input_size():
    matrix = geometric_matrix(128, AugmentConfig(max_rotation=0.0, flip=False), None)
    np.testing.assert_allclose(matrix @ np.array([64.0, 64.0, 1.0]), [56.0, 56.0])


def test_pickle_members_are_never_deserialised(tmp_path):
    """A shard carrying a pickle next to real images: the decoder ignores it and reads only images and JSON."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (Path(tmp_path / "pwned").touch, ())

    meta = {"is_bonafide": False, "video_id": "v", "attack_type": "print", "subject": "s"}
    members = {"k.json": json.dumps(meta).encode(),
               "k.rgb.png": _png(np.zeros((128, 128, 3), np.uint8)),
               "k.rgb_di.png": _png(np.zeros((128, 128), np.uint8)),
               "k.pyd": pickle.dumps(Boom()), "k.pth": pickle.dumps(Boom())}
    shard = write_tar(tmp_path / "evil.tar", members.items())
    batches = list(iterate_eval(SplitShards("p", "test", [str(shard)], 1), ["rgb"], 1, 0))
    assert batches[0]["key"] == ["k"] and not (tmp_path / "pwned").exists()


def test_model_inputs_normalise_as_the_float_formula_did(cefa_shards):
    """The device-side normalisation equals, bit for bit, the per-image numpy formula the workers used
    to run: ``(x / 255 - mean) / std`` in float32, grey replicated to three channels."""
    shards = split_shards(cefa_shards.manifests, "4_1", "train", cefa_shards.out)
    batch = next(iter(loader(train_pipeline(shards, ["rgb", "depth"], batch_size=2, seed=1), 0)))
    inputs = model_inputs(batch, ["rgb", "depth"], torch.device("cpu"))
    assert set(inputs) == {"rgb", "rgb_di", "depth", "depth_di"}
    for name, tensor in inputs.items():
        for image, got in zip(batch[name].numpy(), tensor.numpy()):
            hwc = np.repeat(image.transpose(1, 2, 0), 3 // image.shape[0], axis=2)
            expected = ((hwc.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
            assert got.dtype == np.float32 and np.array_equal(got, expected), name


def _float_jitter(rgb: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """The float formula colour_jitter replaced."""
    image = rgb.astype(np.float32)
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * saturation
    image = (image - image.mean()) * contrast + image.mean()
    return np.clip(image * brightness, 0, 255).astype(np.uint8)


def test_colour_jitter_matches_the_float_formula_to_one_grey_level():
    rng = np.random.default_rng(0)
    for seed in range(20):
        image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        ours = colour_jitter(image, 0.4, np.random.default_rng(seed)).astype(int)
        factors = 1.0 + np.random.default_rng(seed).uniform(-0.4, 0.4, size=3)
        reference = _float_jitter(image, *factors).astype(int)
        assert np.abs(ours - reference).max() <= 1 and abs((ours - reference).mean()) < 0.2


def test_tar_reader_reads_what_tarfile_wrote_and_counts_a_truncated_shard(tmp_path):
    long_key = "k" * 120  # longer than a tar header's name field: a GNU long-name member
    members = [(f"{key}.{ext}", f"{key}-{ext}".encode() * n)
               for key in ("a", long_key) for ext, n in (("json", 1), ("x", 700))]
    whole = write_tar(tmp_path / "whole.tar", members)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(whole.read_bytes()[:1800])  # inside the first sample's second member
    handler = CorruptSamples()
    samples = list(tar_samples(handler)([{"url": str(whole)}, {"url": str(cut)}]))
    assert [s["__key__"] for s in samples] == ["a", long_key, "a"] and handler.skipped == 1
    assert samples[1]["x"] == f"{long_key}-x".encode() * 700 and samples[0]["__url__"] == str(whole)
    with pytest.raises(BrokenShards, match="truncated tar member"):
        list(tar_samples(CorruptSamples(fail_fast=True))([{"url": str(cut)}]))


def test_npy_members_are_read_without_copies_or_objects():
    def npy(array: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=True)
        return buffer.getvalue()

    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    assert np.array_equal(decode_image(npy(image)), image)
    assert np.array_equal(decode_image(npy(np.asfortranarray(image))), image)
    with pytest.raises(ValueError, match="Python objects"):
        decode_image(npy(np.array([{"a": 1}], dtype=object)))
    with pytest.raises(ValueError):
        decode_image(npy(image)[:-1])  # truncated data


def test_tar_reader_keeps_shards_apart_after_an_error_and_refuses_hostile_headers(tmp_path):
    first = write_tar(tmp_path / "first.tar", [("k1.a", b"1" * 600), ("k1.b", b"2" * 600)])
    cut = tmp_path / "cut.tar"
    cut.write_bytes(first.read_bytes()[:1700])  # inside k1.b
    second = write_tar(tmp_path / "second.tar", [("k1.a", b"3"), ("k1.b", b"4")])  # the same key in the next shard
    samples = list(tar_samples(CorruptSamples())([{"url": str(cut)}, {"url": str(second)}]))
    # the broken shard's half sample is not merged into the next shard's sample of the same key
    assert [(s["__url__"], sorted(k for k in s if not k.startswith("__"))) for s in samples] == [
        (str(cut), ["a"]), (str(second), ["a", "b"])]
    at_boundary = tmp_path / "boundary.tar"
    at_boundary.write_bytes(first.read_bytes()[:1024 + 512])  # whole members, but no end-of-archive block
    with pytest.raises(BrokenShards, match="no end-of-archive block"):
        list(tar_samples(CorruptSamples(fail_fast=True))([{"url": str(at_boundary)}]))
    huge = bytearray(first.read_bytes())
    huge[124:136] = b"%011o\0" % (2**33 - 1)  # an 8 GiB member
    huge[148:156] = b"%06o\0 " % (256 + sum(huge[:148]) + sum(huge[156:512]))
    (tmp_path / "huge.tar").write_bytes(bytes(huge))
    with pytest.raises(BrokenShards, match="more than the"):
        list(tar_samples(CorruptSamples(fail_fast=True))([{"url": str(tmp_path / "huge.tar")}]))


def test_npy_with_a_shape_that_does_not_fit_its_bytes_is_refused():
    def raw(header: str, payload: bytes) -> bytes:
        text = header.encode("latin1")
        text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload

    good = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 4), }"
    assert decode_image(raw(good, bytes(8))).shape == (2, 4)
    for header, payload in ((good, bytes(9)),
                            ("{'descr': '|u1', 'fortran_order': False, 'shape': (-1, 4), }", bytes(8)),
                            ("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 0), }", b"")):
        with pytest.raises(ValueError, match="npy array does not load"):
            decode_image(raw(header, payload))
