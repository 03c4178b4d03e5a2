"""Turning one recording's planned windows into encoded samples (the work inside a shard task).

For each window: decode only its frames, find one crop geometry, crop every modality with it,
pool a dynamic image per modality, quantise, encode. Bad data becomes reject rows that name the
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
from .detectors import make_detector
from .dynamic import dynamic_image, quantise
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


@lru_cache(maxsize=None)
def detector_for(backend: str):
    """One detector per worker process: model weights load once, not once per window."""
    return make_detector(backend)


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
    counts = {m: int(video[f"n_frames_{m}"]) for m in modalities}
    geometry_source = WindowGeometry(video, root, config)
    samples = []
    for window in windows:
        clips = {m: np.stack([decoded[m][i] for i in window.frames]) for m in modalities}
        geometry = geometry_source.for_window(window, clips["rgb"] if "rgb" in clips else clips[modalities[0]])
        if geometry is None:
            rejects.append(reject_row(video["video_id"], window.index, "faces", "no_face", geometry_source.last_failure))
            continue
        sample = _make_sample(video, window, clips, geometry, counts, config)
        sample.row["annotation_issue"] = geometry_source.window_issue
        samples.append(sample)
    return samples, rejects


def _decode(video, root: Path, modalities: list[str], windows) -> tuple[dict, list[WindowTask], list[dict]]:
    """Frames of every window, decoded in one pass per modality.

    When that pass fails (a corrupt frame, a container that overstates its length), the windows are
    decoded one by one, so the bad frames cost only the windows that contain them.
    """
    needed = sorted({i for window in windows for i in window.frames})
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
        for modality, by_index in frames.items():
            decoded[modality].update(by_index)
        good.append(window)
    return decoded, good, rejects


def _read(path: Path, modality: str, indices: list[int]) -> dict[int, np.ndarray]:
    source = open_source(path, grey=modality != "rgb")
    return dict(zip(indices, source.read(indices)))


def _make_sample(video, window: WindowTask, clips, geometry: faces.CropGeometry, counts, config) -> Sample:
    key = sample_key(video["video_id"], window.index)
    members: dict[str, bytes] = {}
    for modality, clip in clips.items():
        crops = faces.crop(clip, geometry)
        members[f"{modality}.{config.image_format}"] = encode_image(crops[len(crops) // 2], config)
        pooled = quantise(dynamic_image(crops), config.quantisation, config.fixed_scale)
        members[f"{modality}_di.{config.image_format}"] = encode_image(pooled, config)
    metadata = {
        "video_id": video["video_id"],
        "subject": video["subject"],
        "is_bonafide": bool(video["is_bonafide"]),
        "attack_type": video["attack_type"],
        "window": window.index,
        "frames": list(window.frames),
        "modalities": sorted(clips),
        "frame_counts": counts,
        "crop": {"method": geometry.method, "box": [round(float(v), 2) for v in geometry.box], "size": geometry.size},
        "quantisation": {"mode": config.quantisation, "scale": config.fixed_scale},
    }
    members["json"] = json.dumps(metadata, sort_keys=True).encode()
    row = {
        "key": key,
        "video_id": video["video_id"],
        "window": window.index,
        "frames": list(window.frames),
        "crop_method": geometry.method,
        "frame_count_mismatch": len(set(counts.values())) > 1,
        "sha256": payload_digest(members),
    }
    return Sample(key, members, row)


class WindowGeometry:
    """The crop geometry of each window of one recording, from its annotations or a detector."""

    def __init__(self, video: dict[str, Any], root: Path, config: SampleConfig):
        self.video, self.config = video, config
        self.source = video["face_source"] if config.use_annotations else "detector"
        self.last_failure = ""
        # Why the last window's annotation could not be used (None: it was, or there is none):
        # the window then falls back to the detector, and samples.parquet says why.
        self.window_issue: str | None = None
        self._file_issue: str | None = None
        self._eyes: dict[int, np.ndarray] | None = None
        self._boxes: np.ndarray | None = None
        try:
            if self.source == "eyes":
                self._eyes = faces.read_eye_file(root / video["annotation_path"])
            elif self.source == "face_file":
                self._boxes = faces.fill_gaps(faces.read_face_file(root / video["annotation_path"]))
        except (OSError, faces.AnnotationError) as error:
            log.warning("%s: annotation unusable, falling back to the detector: %s", video["video_id"], error)
            self.source, self._file_issue = "detector", str(error)

    def for_window(self, window: WindowTask, rgb_clip: np.ndarray) -> faces.CropGeometry | None:
        size, padding = self.config.crop_size, self.config.padding
        height, width = rgb_clip.shape[1:3]
        self.window_issue = self._file_issue
        if self.source == "black_border":
            box = faces.black_border_box(rgb_clip)
            self.last_failure = "no pixel brighter than the black background"
            return None if box is None else faces.box_geometry(box, size, padding, "black_border")
        if self.source == "eyes":
            rows = [self._eyes[i] for i in window.frames if i in self._eyes]
            try:
                if not rows:
                    raise ValueError(f"no eye positions for frames {list(window.frames)}")
                eyes = np.stack(rows)
                faces.check_inside(eyes.reshape(-1, 2), width, height, "eye positions")
                return faces.eye_geometry(eyes, size)
            except ValueError as error:  # e.g. both eyes annotated at one point: use the detector
                self.window_issue = f"{self.video['annotation_path']}: {error}"
        if self.source == "face_file":
            within = self._boxes[[i for i in window.frames if i < len(self._boxes)]]
            box = faces.window_box(within)
            try:
                if box is None:
                    raise ValueError(f"no face box for frames {list(window.frames)}")
                centre = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
                faces.check_inside(centre, width, height, "face box centre")
                return faces.box_geometry(box, size, padding, "face_file")
            except ValueError as error:
                self.window_issue = f"{self.video['annotation_path']}: {error}"
        if self.window_issue:
            log.warning("%s window %d: %s; using the detector", self.video["video_id"], window.index, self.window_issue)
        return self._detect(window, rgb_clip)

    def _detect(self, window: WindowTask, rgb_clip: np.ndarray) -> faces.CropGeometry | None:
        detector = detector_for(self.config.detector)
        centre = rgb_clip[len(rgb_clip) // 2]
        frame = centre if centre.ndim == 3 else np.repeat(centre[..., None], 3, axis=2)
        box = detector.detect(frame)
        if box is None:
            self.last_failure = f"{detector.name} found no face in frame {window.frames[len(window.frames) // 2]}"
            return None
        return faces.box_geometry(box, self.config.crop_size, self.config.padding, detector.name)
