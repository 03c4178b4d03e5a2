"""Face sources as named backends: where a recording's crop geometries come from, window by window.

The record's ``face_source`` picks the backend (``shard.use_annotations: false`` picks the detector for
every recording):

* :class:`BlackBorder` — frames that are face crops on black (CeFA, CASIA-SURF);
* :class:`EyePositions` — per-frame eye positions (OULU-NPU ``.txt``);
* :class:`FaceBoxes` — per-frame face boxes (SiW, Replay-Attack, MSU-MFSD and bob's CASIA-FASD ``.face``);
* :class:`DetectorFaces` — a face detector on the window's centre frame (anything else).

Each annotation format has one reader, in its dataset's adapter module (``read_eye_file``,
``read_face_file``), found through the registry by the recording's ``dataset``.

Each backend's :meth:`locate` returns a :class:`WindowFaces` (one geometry per frame and modality) or
raises :class:`~pipeline.faces.NoGeometry`. An annotation that cannot serve a window (a malformed file,
no box for its frames, eyes outside the frame) hands the window to the detector, and ``issue`` says why.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import faces
from .datasets import get_adapter
from .datasets.records import AnnotationError
from .detectors import Detector, make_detector

log = logging.getLogger(__name__)

Clips = dict[str, list[np.ndarray]]  # modality → the window's frames, in frame order


@dataclass(frozen=True)
class WindowFaces:
    geometries: dict[str, list[faces.CropGeometry]]  # modality → one geometry per frame of the window
    method: str  # black_border, eyes, face_file, opencv, face_alignment
    issue: str | None = None  # why the recording's annotation did not serve this window, if it did not


class FaceSource(Protocol):
    def locate(self, frames: Sequence[int], clips: Clips) -> WindowFaces:
        """Geometries for the window of frame numbers ``frames``; raises :class:`faces.NoGeometry`."""


@cache
def detector_for(backend: str) -> Detector:
    """One detector per worker process: model weights load once, not once per window."""
    return make_detector(backend)


def reference_modality(clips: Clips) -> str:
    """The modality annotations and detectors speak of: RGB when the recording has it."""
    return "rgb" if "rgb" in clips else next(iter(clips))


@dataclass(frozen=True)
class BlackBorder:
    size: int
    padding: float

    def locate(self, frames: Sequence[int], clips: Clips) -> WindowFaces:
        return WindowFaces(faces.black_border_geometries(clips, frames, self.size, self.padding), "black_border")


@dataclass(frozen=True)
class DetectorFaces:
    backend: str
    size: int
    padding: float
    issue: str | None = None  # the annotation file this detector stands in for could not be used

    def locate(self, frames: Sequence[int], clips: Clips) -> WindowFaces:
        detector = detector_for(self.backend)
        reference = reference_modality(clips)
        centre = clips[reference][len(frames) // 2]
        image = centre if centre.ndim == 3 else np.repeat(centre[..., None], 3, axis=2)
        box = detector.detect(image)
        if box is None:
            raise faces.NoGeometry("no_face",
                                   f"{detector.name} found no face in {reference} frame {frames[len(frames) // 2]}")
        geometry = faces.box_geometry(box, self.size, self.padding, detector.name)
        return WindowFaces(faces.map_to_modalities(geometry, clips, reference), detector.name, self.issue)


@dataclass(frozen=True)
class EyePositions:
    eyes: dict[int, np.ndarray]  # frame number → x_right_eye, y_right_eye, x_left_eye, y_left_eye
    annotation: str
    fallback: DetectorFaces

    def locate(self, frames: Sequence[int], clips: Clips) -> WindowFaces:
        reference = reference_modality(clips)
        width, height = faces.frame_size(clips[reference][len(frames) // 2])
        rows = [self.eyes[n] for n in frames if n in self.eyes]
        try:
            if not rows:
                raise ValueError(f"no eye positions for frames {list(frames)}")
            eyes = np.stack(rows)
            faces.check_inside(eyes.reshape(-1, 2), width, height, "eye positions")
            geometry = faces.eye_geometry(eyes, self.fallback.size)
        except ValueError as error:  # e.g. both eyes annotated at one point: use the detector
            return _fallback(self.fallback, frames, clips, f"{self.annotation}: {error}")
        return WindowFaces(faces.map_to_modalities(geometry, clips, reference), "eyes")


@dataclass(frozen=True)
class FaceBoxes:
    boxes: np.ndarray  # (frames, 4) x1 y1 x2 y2 per frame position, gaps already filled
    annotation: str
    fallback: DetectorFaces

    def locate(self, frames: Sequence[int], clips: Clips) -> WindowFaces:
        reference = reference_modality(clips)
        width, height = faces.frame_size(clips[reference][len(frames) // 2])
        box = faces.window_box(self.boxes[[n for n in frames if n < len(self.boxes)]])
        try:
            if box is None:
                raise ValueError(f"no face box for frames {list(frames)}")
            centre = np.array([[(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]])
            faces.check_inside(centre, width, height, "face box centre")
        except ValueError as error:
            return _fallback(self.fallback, frames, clips, f"{self.annotation}: {error}")
        geometry = faces.box_geometry(box, self.fallback.size, self.fallback.padding, "face_file")
        return WindowFaces(faces.map_to_modalities(geometry, clips, reference), "face_file")


def _fallback(detector: DetectorFaces, frames: Sequence[int], clips: Clips, issue: str) -> WindowFaces:
    found = detector.locate(frames, clips)
    return WindowFaces(found.geometries, found.method, issue)


def face_source_for(video: dict[str, Any], root: Path, backend: str, size: int, padding: float,
                    use_annotations: bool = True) -> FaceSource:
    """The backend for one recording, by its ``face_source`` (an unreadable annotation: the detector)."""
    detector = DetectorFaces(backend, size, padding)
    source = video["face_source"] if use_annotations else "detector"
    if source == "black_border":
        return BlackBorder(size, padding)
    if source not in ("eyes", "face_file"):
        return detector
    path = root / video["annotation_path"]
    adapter = get_adapter(video["dataset"])  # its module holds the reader of its annotation format
    try:
        if source == "eyes":
            return EyePositions(adapter.read_eye_file(path), video["annotation_path"], detector)
        return FaceBoxes(faces.fill_gaps(adapter.read_face_file(path)), video["annotation_path"], detector)
    except (OSError, AnnotationError) as error:
        log.warning("%s: annotation unusable, falling back to the detector: %s", video["video_id"], error)
        return DetectorFaces(backend, size, padding, issue=str(error))
