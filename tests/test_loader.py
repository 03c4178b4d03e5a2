"""The shard-streaming loader: exactly-once evaluation, shared augmentation, nothing unpickled."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.augment import AugmentConfig, geometric_matrix
from training.data import SampleDecoder, SplitShards, iterate_eval, loader, split_shards, train_pipeline


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_test_split_yields_every_sample_exactly_once(cefa_shards, workers):
    shards = split_shards(cefa_shards.manifests, "4_1", "test", cefa_shards.out)
    assert len(shards.urls) >= 2
    keys = [key for batch in iterate_eval(shards, ["rgb", "depth", "ir"], 3, workers) for key in batch["key"]]
    assert len(keys) == len(set(keys)) == shards.n_samples


def test_split_index_names_missing_protocols(cefa_shards):
    with pytest.raises(KeyError, match="no shards for 9_9/test"):
        split_shards(cefa_shards.manifests, "9_9", "test")


def test_training_epoch_has_a_fixed_length_and_batch_shapes(cefa_shards):
    shards = split_shards(cefa_shards.manifests, "4_1", "train", cefa_shards.out)
    pipeline = train_pipeline(shards, ["rgb", "depth"], batch_size=4, epoch_samples=20, seed=1)
    batches = list(loader(pipeline, 0))
    assert len(batches) == 5  # ceil(20 / 4), whatever the split holds
    assert batches[0]["rgb"].shape == (4, 3, 112, 112) and batches[0]["depth_di"].shape == (4, 3, 112, 112)
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
        reference = out["rgb"][0]
        for name in ("rgb_di", "depth", "depth_di", "ir", "ir_di"):
            np.testing.assert_allclose(out[name][0], reference, atol=1e-6)
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

    members = {"k.json": json.dumps({"is_bonafide": False, "video_id": "v", "attack_type": "print", "subject": "s"}).encode(),
               "k.rgb.png": _png(np.zeros((128, 128, 3), np.uint8)), "k.rgb_di.png": _png(np.zeros((128, 128), np.uint8)),
               "k.pyd": pickle.dumps(Boom()), "k.pth": pickle.dumps(Boom())}
    shard = tmp_path / "evil.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    batches = list(iterate_eval(SplitShards("p", "test", [str(shard)], 1), ["rgb"], 1, 0))
    assert batches[0]["key"] == ["k"] and not (tmp_path / "pwned").exists()
