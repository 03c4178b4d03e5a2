"""Turning one recording's planned windows into encoded samples (the work inside a shard task).

For each window: decode only its frames (by frame number, in every modality), find the crop geometry
of each frame in each modality (:mod:`pipeline.face_sources`), crop, pool a dynamic image per
modality, quantise, encode (:mod:`pipeline.format`). Bad data becomes reject rows that name the file
and the reason; the other recordings of the shard carry on.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import faces
from .datasets.records import MODALITIES
from .dynamic import dynamic_image, quantise
from .face_sources import WindowFaces, face_source_for
from .faces import NoGeometry
from .format.images import IMAGE_FORMATS, encode_image
from .format.members import image_names, payload_digest, sample_key
from .frames import DecodeError, DecodeTimeout, open_source
from .params import check_types
from .plan import RecordingTask, WindowTask, reject_row
from .video import DECODE_TIMEOUT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleConfig:
    """Everything that changes a sample's bytes (its hash decides whether a shard must be redone)."""

    crop_size: int = 128
    padding: float = 0.1
    detector: str = "auto"
    use_annotations: bool = True
    quantisation: str = "minmax"
    fixed_scale: float = 4.0
    image_format: str = "npy"
    png_compression: int = 3
    jpeg_quality: int = 95
    decoder: str = "auto"
    decode_timeout: float = DECODE_TIMEOUT

    def __post_init__(self) -> None:
        """Refuse a bad setting before any task runs: inside a task it would look like bad data."""
        from .detectors import BACKENDS
        from .dynamic import QUANTISATIONS
        from .video import DECODERS

        check_types("shard", self)
        for name in ("padding", "fixed_scale", "decode_timeout"):  # YAML's 120 is 120.0: one digest for both
            object.__setattr__(self, name, float(getattr(self, name)))
        checks = {
            "quantisation": (self.quantisation in QUANTISATIONS, f"one of {QUANTISATIONS}"),
            "image_format": (self.image_format in IMAGE_FORMATS, f"one of {IMAGE_FORMATS}"),
            "detector": (self.detector in BACKENDS, f"one of {BACKENDS}"),
            "decoder": (self.decoder in DECODERS, f"one of {DECODERS}"),
            "decode_timeout": (self.decode_timeout > 0, "positive (seconds)"),
            "crop_size": (self.crop_size >= 16, "at least 16 pixels"),
            "padding": (self.padding >= 0, "not negative"),
            "fixed_scale": (self.fixed_scale > 0, "positive"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ValueError(f"shard setting {name}={getattr(self, name)!r}: expected {expected}")

    def digest(self) -> str:
        """Hash of the settings, with ``auto`` resolved: shards cropped by another detector, or decoded by
        another decoder, are redone."""
        from .detectors import resolve_backend
        from .video import resolve_decoder

        settings = asdict(self) | {"detector": resolve_backend(self.detector),
                                   "decoder": resolve_decoder(self.decoder)}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Sample:
    key: str
    members: dict[str, bytes]  # extension ("rgb.png", "json", …) → bytes
    row: dict[str, Any]


def encode(image: np.ndarray, config: SampleConfig) -> bytes:
    return encode_image(image, config.image_format, config.png_compression, config.jpeg_quality)


def recording_samples(task: RecordingTask, root: Path, config: SampleConfig) -> tuple[list[Sample], list[dict]]:
    """Samples of one recording's windows, and reject rows for what could not be made."""
    video = task.video
    modalities = [m for m in MODALITIES if isinstance(video.get(f"path_{m}"), str)]
    decoded, windows, rejects = _decode(video, root, modalities, task.windows, config)
    source = face_source_for(video, root, config.detector, config.crop_size, config.padding, config.use_annotations)
    samples = []
    for window in windows:
        clips = {m: [decoded[m][n] for n in window.frames] for m in modalities}
        try:
            found = source.locate(window.frames, clips)
        except NoGeometry as error:
            rejects.append(reject_row(video["video_id"], window.index, "faces", error.reason, error.detail))
            continue
        if found.issue:
            log.warning("%s window %d: %s; the %s detector cropped it", video["video_id"], window.index, found.issue,
                        found.method)
        samples.append(_make_sample(video, window, clips, found, config))
    return samples, rejects


def _decode(video, root: Path, modalities: list[str], windows,
            config: SampleConfig) -> tuple[dict, list[WindowTask], list[dict]]:
    """Frames of every window by frame number, decoded in one pass per modality.

    When that pass fails (a corrupt frame, a video shorter than the manifest says), the windows are
    decoded one by one, so the bad frames cost only the windows that contain them. A decoder stopped at
    ``decode_timeout`` costs the recording: trying each window would only wait that long again.
    """
    needed = sorted({n for window in windows for n in window.frames})
    try:
        return {m: _read(root / video[f"path_{m}"], m, needed, config) for m in modalities}, list(windows), []
    except DecodeTimeout as error:
        return {}, [], [reject_row(video["video_id"], None, "decode", error.reason, str(error))]
    except DecodeError:
        pass
    decoded: dict[str, dict[int, np.ndarray]] = {m: {} for m in modalities}
    good, rejects = [], []
    for window in windows:
        try:
            frames = {m: _read(root / video[f"path_{m}"], m, list(window.frames), config) for m in modalities}
        except DecodeError as error:
            rejects.append(reject_row(video["video_id"], window.index, "decode", error.reason, str(error)))
            continue
        for modality, by_number in frames.items():
            decoded[modality].update(by_number)
        good.append(window)
    return decoded, good, rejects


def _read(path: Path, modality: str, numbers: list[int], config: SampleConfig) -> dict[int, np.ndarray]:
    source = open_source(path, modality != "rgb", config.decoder, config.decode_timeout)
    return dict(zip(numbers, source.read(numbers)))


def _make_sample(video, window: WindowTask, clips: dict[str, list[np.ndarray]], found: WindowFaces,
                 config: SampleConfig) -> Sample:
    key = sample_key(video["video_id"], window.index)
    members: dict[str, bytes] = {}
    centre = len(window.frames) // 2
    for modality, clip in clips.items():
        crops = faces.crop(clip, found.geometries[modality])
        static, dynamic = image_names(modality)
        members[f"{static}.{config.image_format}"] = encode(crops[centre], config)
        pooled = quantise(dynamic_image(crops), config.quantisation, config.fixed_scale)
        members[f"{dynamic}.{config.image_format}"] = encode(pooled, config)
    sizes = {m: [list(faces.frame_size(f)) for f in clip] for m, clip in clips.items()}
    boxes = {m: [round(float(v), 4) for v in geometries[centre].box] for m, geometries in found.geometries.items()}
    metadata = {
        "video_id": video["video_id"],
        "subject": video["subject"],
        "is_bonafide": bool(video["is_bonafide"]),
        "attack_type": video["attack_type"],
        "window": window.index,
        "frames": list(window.frames),
        "modalities": sorted(clips),
        "frame_sizes": sizes,
        "crop": {"method": found.method, "box": boxes, "size": config.crop_size},
        "quantisation": {"mode": config.quantisation, "scale": config.fixed_scale},
    }
    members["json"] = json.dumps(metadata, sort_keys=True).encode()
    row = {
        "key": key,
        "video_id": video["video_id"],
        "window": window.index,
        "frames": list(window.frames),
        "crop_method": found.method,
        "annotation_issue": found.issue,
        "frame_gap": window.gap,
        "sizes_vary": any(len({tuple(s) for s in per_frame}) > 1 for per_frame in sizes.values()),
        "sha256": payload_digest(members),
    }
    return Sample(key, members, row)
