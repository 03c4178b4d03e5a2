"""Turning one recording's planned windows into encoded samples (the work inside a shard task).

For each window: decode only its frames (by frame number, in every modality), find the crop geometry
of each frame in each modality (:mod:`pipeline.face_sources`), crop, pool a dynamic image per
modality, quantise, encode. Bad data becomes reject rows that name the
file and the reason; the other recordings of the shard carry on.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import faces
from .datasets.records import MODALITIES
from .dynamic import dynamic_image, quantise
from .face_sources import WindowFaces, face_source_for
from .faces import NoGeometry
from .frames import DecodeError, open_source
from .plan import RecordingTask, WindowTask, reject_row

log = logging.getLogger(__name__)

#: png: lossless, compressed; jpg: lossy; npy: the raw array (``np.save``, no pickle): about 2–3 times
#: the bytes of png, but nearly free to encode and several times faster to decode than png.
IMAGE_FORMATS = ("png", "jpg", "npy")
#: The first bytes of every ``np.save`` file: how an npy member is told from PNG or JPEG.
NPY_MAGIC = b"\x93NUMPY"


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

    def __post_init__(self) -> None:
        """Refuse a bad setting before any task runs: inside a task it would look like bad data."""
        from .detectors import BACKENDS
        from .dynamic import QUANTISATIONS

        checks = {
            "quantisation": (self.quantisation in QUANTISATIONS, f"one of {QUANTISATIONS}"),
            "image_format": (self.image_format in IMAGE_FORMATS, f"one of {IMAGE_FORMATS}"),
            "detector": (self.detector in BACKENDS, f"one of {BACKENDS}"),
            "crop_size": (self.crop_size >= 16, "at least 16 pixels"),
            "padding": (self.padding >= 0, "not negative"),
            "fixed_scale": (self.fixed_scale > 0, "positive"),
        }
        for name, (ok, expected) in checks.items():
            if not ok:
                raise ValueError(f"shard setting {name}={getattr(self, name)!r}: expected {expected}")

    def digest(self) -> str:
        """Hash of the settings, with ``auto`` resolved: shards cropped by another detector are redone."""
        from .detectors import resolve_backend

        settings = asdict(self) | {"detector": resolve_backend(self.detector)}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Sample:
    key: str
    members: dict[str, bytes]  # extension ("rgb.png", "json", …) → bytes
    row: dict[str, Any]


def encode_image(image: np.ndarray, config: SampleConfig) -> bytes:
    """Encode an RGB or grey uint8 image; npy stores the array as is (RGB order, readable with
    ``np.load(..., allow_pickle=False)``), png and jpg go through OpenCV."""
    import cv2

    if config.image_format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(image), allow_pickle=False)
        return buffer.getvalue()
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if config.image_format == "png":
        ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, config.png_compression])
    elif config.image_format == "jpg":
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
    else:
        raise ValueError(f"unknown image format {config.image_format!r}: expected one of {IMAGE_FORMATS}")
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {image.shape} image as {config.image_format}")
    return data.tobytes()


def image_member(members: dict[str, Any], name: str) -> bytes | None:
    """The bytes of image ``name`` (``rgb``, ``rgb_di``, …) among a sample's members, whatever its format."""
    for extension in IMAGE_FORMATS:
        if f"{name}.{extension}" in members:
            return members[f"{name}.{extension}"]
    return None


def decode_image(data: bytes) -> np.ndarray:
    """The inverse of :func:`encode_image`: an RGB (H, W, 3) or grey (H, W) uint8 image.

    The format is told by the bytes, not the member name: npy by its magic (a read-only view of the
    bytes; object arrays are refused, nothing is unpickled), anything else through OpenCV.
    Raises ValueError.
    """
    import cv2

    if data.startswith(NPY_MAGIC):
        try:
            image = _npy(data)
        except (ValueError, EOFError) as error:
            raise ValueError(f"npy array does not load ({error})") from None
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise ValueError(f"npy array {image.dtype} {image.shape} is not a uint8 image")
        return image
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("image does not decode")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def _npy(data: bytes) -> np.ndarray:
    """An npy member as a read-only view of its bytes: no copy, and no object arrays (never unpickled)."""
    version = data[6:8]
    if version == b"\x01\x00":
        end = 10 + int.from_bytes(data[8:10], "little")
    elif version in (b"\x02\x00", b"\x03\x00"):
        end = 12 + int.from_bytes(data[8:12], "little")
    else:
        raise ValueError(f"npy format version {tuple(version)} is not supported")
    shape, fortran, dtype = _npy_header(data[:end])
    if not shape or min(shape) <= 0 or len(data) != end + math.prod(shape) * dtype.itemsize:
        raise ValueError(f"shape {shape} does not match the {len(data) - end} bytes of data")
    array = np.frombuffer(data, dtype, math.prod(shape), offset=end)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


@lru_cache(maxsize=64)
def _npy_header(header: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) of an npy header, parsed by numpy once per distinct header: its
    ``literal_eval`` was over half the cost of reading a 128 px crop, and a shard's crops share a few headers."""
    stream = io.BytesIO(header)
    version = np.lib.format.read_magic(stream)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(stream)
    if dtype.hasobject:
        raise ValueError("npy member holds Python objects: refused, it would need unpickling")
    return shape, fortran, dtype


def payload_digest(members: dict[str, bytes]) -> str:
    """sha256 over the sample's members in name order: what verify recomputes from the tar."""
    digest = hashlib.sha256()
    for name in sorted(members):
        digest.update(name.encode() + b"\0" + hashlib.sha256(members[name]).digest())
    return digest.hexdigest()


def sample_key(video_id: str, window: int) -> str:
    return f"{video_id}_w{window:03d}"


def recording_samples(task: RecordingTask, root: Path, config: SampleConfig) -> tuple[list[Sample], list[dict]]:
    """Samples of one recording's windows, and reject rows for what could not be made."""
    video = task.video
    modalities = [m for m in MODALITIES if isinstance(video.get(f"path_{m}"), str)]
    decoded, windows, rejects = _decode(video, root, modalities, task.windows)
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


def _decode(video, root: Path, modalities: list[str], windows) -> tuple[dict, list[WindowTask], list[dict]]:
    """Frames of every window by frame number, decoded in one pass per modality.

    When that pass fails (a corrupt frame, a container that overstates its length), the windows are
    decoded one by one, so the bad frames cost only the windows that contain them.
    """
    needed = sorted({n for window in windows for n in window.frames})
    try:
        return {m: _read(root / video[f"path_{m}"], m, needed) for m in modalities}, list(windows), []
    except DecodeError:
        pass
    decoded: dict[str, dict[int, np.ndarray]] = {m: {} for m in modalities}
    good, rejects = [], []
    for window in windows:
        try:
            frames = {m: _read(root / video[f"path_{m}"], m, list(window.frames)) for m in modalities}
        except DecodeError as error:
            rejects.append(reject_row(video["video_id"], window.index, "decode", "decode_error", str(error)))
            continue
        for modality, by_number in frames.items():
            decoded[modality].update(by_number)
        good.append(window)
    return decoded, good, rejects


def _read(path: Path, modality: str, numbers: list[int]) -> dict[int, np.ndarray]:
    source = open_source(path, grey=modality != "rgb")
    return dict(zip(numbers, source.read(numbers)))


def _make_sample(video, window: WindowTask, clips: dict[str, list[np.ndarray]], found: WindowFaces,
                 config: SampleConfig) -> Sample:
    key = sample_key(video["video_id"], window.index)
    members: dict[str, bytes] = {}
    centre = len(window.frames) // 2
    for modality, clip in clips.items():
        crops = faces.crop(clip, found.geometries[modality])
        members[f"{modality}.{config.image_format}"] = encode_image(crops[centre], config)
        pooled = quantise(dynamic_image(crops), config.quantisation, config.fixed_scale)
        members[f"{modality}_di.{config.image_format}"] = encode_image(pooled, config)
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
