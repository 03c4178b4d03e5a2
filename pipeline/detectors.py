"""Face detector backends behind one interface: ``detector.detect(rgb) -> box or None``.

* ``opencv`` — the frontal-face Haar cascade that ships inside ``opencv-python`` 4.x: always available.
* ``face_alignment`` — FAN landmarks (Bulat & Tzimiropoulos), box = landmark extent. Its weights are
  downloaded on first use into ``$TORCH_HOME/hub/checkpoints``; offline they must already be there,
  so this backend is only offered when those files exist (it never starts a download).
* ``auto`` — ``face_alignment`` when its weights are present, otherwise ``opencv``; logs which.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

BACKENDS = ("auto", "opencv", "face_alignment")
#: File names face-alignment's loaders look for in the torch hub checkpoint folder.
FAN_WEIGHTS = ("2DFAN4-11f355bf06.pth.tar", "s3fd-619a316812.pth")

Box = tuple[float, float, float, float]


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> Box | None:
        """The largest face in an ``(H, W, 3)`` uint8 RGB image as ``x1, y1, x2, y2``, or None."""


def checkpoint_dir() -> Path:
    """Where torch hub (and face-alignment) keep downloaded weights."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def fan_weights_present() -> bool:
    return all((checkpoint_dir() / name).is_file() for name in FAN_WEIGHTS)


class OpenCVDetector:
    name = "opencv"

    def __init__(self, min_size: int = 24):
        import cv2.data  # by name: OpenCV's stubs do not list cv2.data among cv2's attributes

        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV Haar cascade missing at {path} (opencv-python 4.x ships it)")
        self._min_size = min_size

    def detect(self, rgb: np.ndarray) -> Box | None:
        import cv2

        grey = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        faces = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(self._min_size,) * 2)
        if len(faces) == 0:
            return None
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        return float(x), float(y), float(x + w), float(y + h)


class FaceAlignmentDetector:
    name = "face_alignment"

    def __init__(self, device: str = "cpu"):
        missing = [n for n in FAN_WEIGHTS if not (checkpoint_dir() / n).is_file()]
        if missing:
            raise RuntimeError(
                f"face_alignment weights {missing} are not in {checkpoint_dir()}; place them there "
                "(no download is attempted) or use --detector opencv"
            )
        import face_alignment

        self._model = face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D, device=device, flip_input=False, compile=False
        )

    def detect(self, rgb: np.ndarray) -> Box | None:
        landmarks = self._model.get_landmarks_from_image(rgb)
        if not landmarks:
            return None
        points = max(landmarks, key=lambda p: np.ptp(p[:, 0]) * np.ptp(p[:, 1]))
        return (float(points[:, 0].min()), float(points[:, 1].min()),
                float(points[:, 0].max()), float(points[:, 1].max()))


def resolve_backend(backend: str) -> str:
    """The backend ``auto`` stands for on this machine: face_alignment when its weights are on disk."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown face detector {backend!r}: expected one of {BACKENDS}")
    if backend == "auto":
        return "face_alignment" if fan_weights_present() else "opencv"
    return backend


def make_detector(backend: str = "auto") -> Detector:
    """Build the named backend; ``auto`` prefers face_alignment when its weights are on disk."""
    chosen = resolve_backend(backend)
    if backend == "auto":
        log.info("face detector: %s (auto)", chosen)
    return FaceAlignmentDetector() if chosen == "face_alignment" else OpenCVDetector()
