"""Training input: the shard-streaming loader against the way peers load, per image format, against
SD-Net's training step rate.

* **ours**: ``training.data.train_pipeline`` + ``loader`` (resampled shards, shuffle buffer, decode,
  one random crop/flip/rotation per sample, colour jitter, uint8 tensors, batches of 16), 2 DataLoader
  workers; ``training.scoring.model_inputs`` normalises them on the device (its CPU cost is printed);
* **peer**: a map-style ``Dataset`` whose ``__getitem__`` does what public SD-Net / dynamic-image code
  does: reads the K frames of every modality from the raw recording (JPEG files with OpenCV; OULU-NPU
  videos with decord, PyAV where decord has no wheels), finds the face in every frame (each black-border
  frame's own face, with the shard stage's function, so that both give the same crops; OULU-NPU's eye
  positions), crops every frame with OpenCV,
  computes the dynamic image with a per-frame float64 loop, then applies the same augmentation in
  float and returns ImageNet-normalised float tensors (as torchvision's ``ToTensor`` + ``Normalize``
  would), batched by the default collate. Same recordings and windows, same batch size and workers,
  and the same model input, checked on one sample without augmentation (the float64 loop can round a
  few dynamic-image pixels to the neighbouring grey level: the check allows 1 level and prints how many);
* the image format of the shards (``shard.image_format``): bytes per sample, encode and decode cost
  per sample, and loader rate for npy, png and jpg;
* SD-Net's training steps per second on this CPU (width 16 and 64, batch 16), to show which limits.

    python benchmarks/bench_loader.py       (or: make bench)
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench_dynamic import loop_float64
from common import DATASETS, all_shards, bench_shards, best_of, header, stage_config, table, training_step, verdict
from pipeline import faces
from pipeline.datasets.oulu import read_eye_file
from pipeline.datasets.probe import numbered_frames
from pipeline.dynamic import quantise
from pipeline.format.images import IMAGE_FORMATS, decode_image, encode_image
from pipeline.format.splits import SplitShards
from pipeline.format.tars import read_tar_samples
from pipeline.frames import open_source
from pipeline.shard import StageConfig
from pipeline.video import installed
from training.augment import IMAGENET_MEAN, IMAGENET_STD, AugmentConfig, geometric_matrix, warp
from training.data import SampleDecoder, collate, loader, train_pipeline, unpack
from training.scoring import model_inputs

TARGET = 10.0  # issue target: the shard loader delivers at least 10x the peer's samples/s
BATCH = 16
WORKERS = 2
WARMUP_BATCHES = 4
#: Each rate is the best of this many runs of about a second: on a shared machine a short run can
#: lose half its time to another job (one run of 48 batches measured 1061 samples/s, the next 2930).
REPEAT = 2
MODALITIES = {"cefa": ["rgb", "depth", "ir"], "oulu": ["rgb"]}


def loader_rate(shards: SplitShards, modalities: list[str], batches: int, balance: str = "auto") -> float:
    """Samples per second of the training loader, after its workers have started and warmed up."""
    pipeline = train_pipeline(shards, modalities, BATCH, epoch_samples=(batches + WARMUP_BATCHES) * BATCH,
                              augment=AugmentConfig(), num_workers=WORKERS, balance=balance)
    return max(_rate(loader(pipeline, WORKERS), batches) for _ in range(REPEAT))


def _rate(batches_iter, batches: int) -> float:
    iterator = iter(batches_iter)
    for _ in range(WARMUP_BATCHES):
        next(iterator)
    started = time.perf_counter()
    count = 0
    for batch in iterator:
        count += len(batch["label"])
        if count >= batches * BATCH:
            break
    return count / (time.perf_counter() - started)


def read_members(config: StageConfig, limit: int) -> list[dict[str, bytes]]:
    """Up to ``limit`` samples' members (extension → bytes) from the first shards."""
    samples: dict[str, dict[str, bytes]] = {}
    for url in all_shards(config).urls:
        samples |= read_tar_samples(Path(url))
        if len(samples) >= limit:
            break
    return list(samples.values())[:limit]


def format_costs(config: StageConfig, image_format: str, images: list[np.ndarray], per_sample: int) -> dict[str, float]:
    """Bytes, encode and decode seconds per sample of ``image_format``, on the same crops."""
    encoded = [encode_image(image, image_format) for image in images]
    encode = best_of(lambda: [encode_image(image, image_format) for image in images], 3)
    decode = best_of(lambda: [decode_image(data) for data in encoded], 3)
    shards = pd.read_parquet(config.manifests / "shards.parquet")
    n = len(images) / per_sample
    return {"bytes": shards["n_bytes"].sum() / shards["n_samples"].sum(), "encode": encode / n, "decode": decode / n}


def peer_colour_jitter(rgb: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation in float, as torchvision's ``ColorJitter`` computes them."""
    image = rgb.astype(np.float32)
    brightness, contrast, saturation = 1.0 + rng.uniform(-amplitude, amplitude, size=3)
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * saturation
    image = (image - image.mean()) * contrast + image.mean()
    return np.clip(image * brightness, 0, 255).astype(np.uint8)


def peer_tensor(image: np.ndarray) -> np.ndarray:
    """uint8 HxW[x3] → float32 3xHxW, ImageNet-normalised in the Dataset (``ToTensor`` + ``Normalize``)."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(((image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))


class PeerDataset(torch.utils.data.Dataset):
    """The usual way: every item reads its window's raw frames and computes crop and dynamic image."""

    def __init__(self, config: StageConfig, modalities: list[str], train: bool = True):
        videos = pd.read_parquet(config.manifests / "videos.parquet").set_index("video_id")
        windows = pd.read_parquet(config.manifests / "samples.parquet")
        self.root, self.modalities, self.train, self.size = config.root, modalities, train, config.sample.crop_size
        self.padding, self.augment = config.sample.padding, AugmentConfig()
        self.items = [(videos.loc[row.video_id].to_dict() | {"video_id": row.video_id}, [int(i) for i in row.frames])
                      for row in windows.itertuples(index=False)]
        self.files = {p: numbered_frames(self.root / p) for v, _ in self.items for m in modalities
                      if (self.root / (p := v[f"path_{m}"])).is_dir()}
        self.eyes = {v["annotation_path"]: read_eye_file(self.root / v["annotation_path"])
                     for v, _ in self.items if v["face_source"] == "eyes"}
        self._rng: np.random.Generator | None = None

    def __len__(self) -> int:
        return len(self.items)

    def _clip(self, path: str, grey: bool, frames: list[int]) -> list[np.ndarray]:
        import cv2

        if path in self.files:
            flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
            images = [cv2.imread(str(self.files[path][n]), flag) for n in frames]
            return images if grey else [cv2.cvtColor(i, cv2.COLOR_BGR2RGB) for i in images]
        if not installed("decord"):  # no wheels for ARM: what such code uses there instead
            return open_source(self.root / path, grey, "pyav").read(frames)
        import decord

        return list(decord.VideoReader(str(self.root / path), num_threads=1).get_batch(frames).asnumpy())

    def __getitem__(self, index: int) -> dict[str, Any]:
        video, frames = self.items[index]
        clips = {m: self._clip(video[f"path_{m}"], m != "rgb", frames) for m in self.modalities}
        if video["face_source"] == "eyes":
            eyes = np.stack([self.eyes[video["annotation_path"]][n] for n in frames])
            geometries = {m: [faces.eye_geometry(eyes, self.size)] * len(frames) for m in clips}
        else:  # each frame its own face crop (the CeFA release)
            geometries = faces.black_border_geometries(clips, frames, self.size, self.padding)
        images = {}
        for modality, clip in clips.items():
            crops = faces.crop(clip, geometries[modality])  # one cv2.warpAffine (and resize, when shrinking) per frame
            images[modality] = crops[len(crops) // 2]
            images[f"{modality}_di"] = quantise(loop_float64(crops), "minmax")
        return self._augment(images, video)

    def _augment(self, images: dict[str, np.ndarray], video: dict[str, Any]) -> dict[str, Any]:
        """The same transforms as ``training.data.SampleDecoder``, in float, to normalised float tensors."""
        if self._rng is None:
            info = torch.utils.data.get_worker_info()
            self._rng = np.random.default_rng([0, info.id if info else 0])
        rng = self._rng if self.train else None
        matrix = geometric_matrix(self.size, self.augment, rng)
        out: dict[str, Any] = {}
        for name, image in images.items():
            if rng is not None and name == "rgb" and self.augment.colour > 0:
                image = peer_colour_jitter(image, self.augment.colour, rng)
            out[name] = peer_tensor(warp(image, matrix, self.augment.input_size))
        out["label"] = np.float32(video["is_bonafide"])
        out |= {"video_id": video["video_id"], "attack_type": video["attack_type"], "subject": video["subject"]}
        return out


def check_same_tensors(config: StageConfig, modalities: list[str]) -> str:
    """Peer and shard give the same model input for a sample (both centre-cropped, no augmentation):
    static images exactly; dynamic images within one grey level, as the peer's float64 loop and our
    float32 kernel may round a pixel near a level boundary apart. Returns what was found."""
    peer = PeerDataset(config, modalities, train=False)
    members = read_members(config, 1)[0]
    meta = json.loads(members["json"])
    index = next(i for i, (v, f) in enumerate(peer.items) if v["video_id"] == meta["video_id"] and f == meta["frames"])
    decoded = SampleDecoder(modalities, AugmentConfig(), train=False)(members | {"__key__": "k"})
    ours = model_inputs(unpack(collate([decoded])), modalities, torch.device("cpu"))
    theirs = peer[index]
    one_level = (1.0 / 255.0 / IMAGENET_STD).reshape(3, 1, 1) * 1.001
    off, pixels = 0, 0
    for name in (n for m in modalities for n in (m, f"{m}_di")):
        difference = np.abs(ours[name][0].numpy() - theirs[name])
        allowed = one_level if name.endswith("_di") else 0.0
        if (difference > allowed).any():
            raise AssertionError(f"peer and shard tensors differ for {name}: up to {difference.max():.4f}")
        off, pixels = off + int((difference > 0).sum()), pixels + difference.size
    return f"same model input, {100 * off / pixels:.2f} % of values 1 grey level apart"


def peer_rate(config: StageConfig, modalities: list[str], batches: int) -> float:
    dataset = PeerDataset(config, modalities)
    generator = torch.Generator().manual_seed(0)
    batches_iter = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=WORKERS,
                                               drop_last=True, generator=generator)
    return max(_rate(batches_iter, batches) for _ in range(REPEAT))


def train_step_rate(batch: dict[str, Any], modalities: list[str], width: int, steps: int) -> float:
    """SD-Net training samples per second on this CPU (forward, backward, Adam step)."""
    step = training_step(modalities, width, "cpu")
    step(batch)  # warm-up
    return len(batch["label"]) * steps / best_of(lambda: [step(batch) for _ in range(steps)], 1)


def bench(dataset: str) -> None:
    modalities = MODALITIES[dataset]
    configs = {fmt: bench_shards(dataset, fmt, WORKERS) for fmt in IMAGE_FORMATS}
    default = stage_config(dataset, Path("unused")).sample.image_format
    per_sample = 2 * len(modalities)
    crops = [decode_image(data) for s in read_members(configs["npy"], 100)
             for ext, data in sorted(s.items()) if ext != "json"]
    rows, rates = [], {}
    for fmt, config in configs.items():
        costs = format_costs(config, fmt, crops, per_sample)
        rates[fmt] = loader_rate(all_shards(config), modalities, batches=128)
        rows.append([fmt + (" (default)" if fmt == default else ""), f"{costs['bytes'] / 1e3:.1f}",
                     f"{1e6 * costs['encode']:.0f}", f"{1e6 * costs['decode']:.0f}", f"{rates[fmt]:.0f}"])
    print(f"{dataset}: image format of the shards (crops {crops[0].shape[0]} px, {per_sample} images a sample)")
    table(rows, ["format", "kB/sample", "encode µs/sample", "decode µs/sample", "loader samples/s"])
    same = check_same_tensors(configs[default], modalities)
    peer = peer_rate(configs[default], modalities, batches=16)
    verdict(f"shard loader/peer loader {dataset}", rates[default] / peer, TARGET, True,
            f"{rates[default]:.0f} vs {peer:.0f} samples/s ({default} shards, batch {BATCH}, {WORKERS} workers, "
            f"{same})")
    pipeline = train_pipeline(all_shards(configs[default]), modalities, BATCH, epoch_samples=BATCH)
    batch = next(iter(loader(pipeline, 0)))
    torch.set_num_threads(2)
    cpu = torch.device("cpu")
    normalise = best_of(lambda: model_inputs(batch, modalities, cpu), 20) / BATCH
    print(f"  our uint8 batches are normalised by model_inputs on the device: {1e6 * normalise:.0f} µs a sample "
          f"on this CPU (in the SD-Net step rates below)")
    steps = {width: train_step_rate(batch, modalities, width, steps=3 if width == 64 else 6) for width in (16, 64)}
    limits = ", ".join(f"width {w}: {rate:.1f} samples/s "
                       f"({'the model' if rate < rates[default] else 'the loader'} limits)"
                       for w, rate in steps.items())
    print(f"  SD-Net training on this CPU ({len(modalities)} modalities, batch {BATCH}, 2 threads): {limits}; "
          f"loader {rates[default]:.0f} samples/s = {rates[default] / steps[16]:.0f}x the width-16 step rate")


def main() -> None:
    header("training input: shard loader vs peer loader, image formats, SD-Net step rate")
    for dataset in DATASETS:
        bench(dataset)


if __name__ == "__main__":
    main()
