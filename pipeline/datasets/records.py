"""The one record type every dataset adapter produces, and its validator.

Adapters only parse names; everything they find goes through :func:`make_recording`, which is the
single place where ``is_bonafide`` is derived from the attack type and where a record without a
subject, with an unknown attack type or with a malformed id is refused.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadData

MODALITIES = ("rgb", "depth", "ir")

#: Attack types known to the pipeline; ``bonafide`` is the only live class. ``unknown`` is an attack
#: whose instrument the release hides (the anonymised dev/test folders of the CeFA challenge).
ATTACK_TYPES = ("bonafide", "print", "replay", "mask3d", "silicone", "cut_print", "unknown")

#: How the shard stage finds the face: the frames are crops on black (``black_border``), the release
#: ships per-frame eye positions (``eyes``) or face boxes (``face_file``), or a detector must (``detector``).
FACE_SOURCES = ("black_border", "eyes", "face_file", "detector")

#: Where a recording sits in the release (the official folder it was shipped in).
SOURCE_SPLITS = ("train", "dev", "test")

_VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class RecordError(ValueError):
    """A parsed record violates the schema; the message names the field, the value and the rule."""

    def __init__(self, field_name: str, value: Any, expected: str):
        super().__init__(f"{field_name}={value!r}: expected {expected}")
        self.field_name = field_name
        self.value = value


class AnnotationError(BadData):
    """An annotation file (eye positions, face boxes) that does not follow its format; names the file and line."""

    reason = "bad_annotation"


class ScanError(ValueError):
    """A file or folder cannot be turned into a recording: ``reason`` is a short category."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Recording:
    """One (possibly multi-modal) recording as found on disk. Paths are relative to the raw root."""

    video_id: str
    dataset: str
    subject: str
    attack_type: str
    attack_detail: str
    source_split: str
    paths: dict[str, str]
    #: Per modality, the numbers of its frames in ascending order: a frame folder's file numbers
    #: (``0001.jpg`` → 1, CASIA-SURF's ``11.jpg`` → 11), a video's frame positions 0 … n − 1.
    frame_numbers: dict[str, tuple[int, ...]]
    face_source: str
    attributes: dict[str, Any] = field(default_factory=dict)
    annotation: str | None = None

    @property
    def is_bonafide(self) -> bool:
        return self.attack_type == "bonafide"

    def to_row(self) -> dict[str, Any]:
        """Flatten to one ``videos.parquet`` row (attributes become typed columns)."""
        row: dict[str, Any] = {
            "video_id": self.video_id,
            "dataset": self.dataset,
            "subject": self.subject,
            "is_bonafide": self.is_bonafide,
            "attack_type": self.attack_type,
            "attack_detail": self.attack_detail,
            "source_split": self.source_split,
        }
        row.update(self.attributes)
        paired = set(paired_frame_numbers(self.frame_numbers))
        every = set().union(*self.frame_numbers.values())
        for modality in MODALITIES:
            numbers = self.frame_numbers.get(modality)
            row[f"path_{modality}"] = self.paths.get(modality)
            row[f"n_frames_{modality}"] = None if numbers is None else len(numbers)
            row[f"frame_numbers_{modality}"] = None if numbers is None else list(numbers)
            # numbers another modality has and this one lacks: they cost every modality that frame
            row[f"missing_frames_{modality}"] = None if numbers is None else sorted(every - set(numbers))
        row["n_frames_paired"] = len(paired)
        row["face_source"] = self.face_source
        row["annotation_path"] = self.annotation
        return row


def make_recording(**fields: Any) -> Recording:
    """Build a :class:`Recording` and validate it; raises :class:`RecordError` on any violation."""
    recording = Recording(**fields)
    validate(recording)
    return recording


def validate(rec: Recording) -> None:
    if not isinstance(rec.video_id, str) or not _VIDEO_ID.match(rec.video_id):
        raise RecordError("video_id", rec.video_id, "letters, digits, '_' or '-', no dots, slashes or leading '_'")
    if not rec.subject:
        raise RecordError("subject", rec.subject, "a non-empty subject id")
    if rec.attack_type not in ATTACK_TYPES:
        raise RecordError("attack_type", rec.attack_type, f"one of {ATTACK_TYPES}")
    if rec.is_bonafide and rec.attack_detail:
        raise RecordError("attack_detail", rec.attack_detail, "empty for a bona fide recording")
    if rec.source_split not in SOURCE_SPLITS:
        raise RecordError("source_split", rec.source_split, f"one of {SOURCE_SPLITS}")
    if rec.face_source not in FACE_SOURCES:
        raise RecordError("face_source", rec.face_source, f"one of {FACE_SOURCES}")
    if rec.face_source in ("eyes", "face_file") and not rec.annotation:
        raise RecordError("face_source", rec.face_source, "an annotation file for eyes/face_file (else 'detector')")
    if not rec.paths:
        raise RecordError("paths", rec.paths, "at least one modality")
    unknown = set(rec.paths) - set(MODALITIES)
    if unknown:
        raise RecordError("paths", sorted(unknown), f"modalities among {MODALITIES}")
    if set(rec.frame_numbers) != set(rec.paths):
        raise RecordError("frame_numbers", sorted(rec.frame_numbers), f"frame numbers for each of {sorted(rec.paths)}")
    for modality, numbers in rec.frame_numbers.items():
        if not numbers or list(numbers) != sorted(set(numbers)) or numbers[0] < 0:
            raise RecordError(f"frame_numbers[{modality}]", list(numbers)[:5],
                              "ascending, distinct, non-negative numbers")
    clash = set(rec.attributes) & {"video_id", "subject", "attack_type", "is_bonafide"}
    if clash:
        raise RecordError("attributes", sorted(clash), "no attribute shadowing a core column")


@dataclass(frozen=True)
class Problem:
    """A file or folder the adapter could not turn into a recording, and why."""

    path: str
    reason: str
    detail: str

    def to_row(self, dataset: str) -> dict[str, str]:
        return {"dataset": dataset, "path": self.path, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class ListEntry:
    """One line of an official protocol list: which recording is in which protocol split, and its label.

    ``protocol`` is the name the list uses (an alias such as ``p4.1`` is fine: the index resolves it).
    """

    protocol: str
    split: str
    video_id: str
    is_bonafide: bool
    source: str


@dataclass
class Scan:
    """What an adapter found under a raw root.

    ``memberships`` is set only when the release itself defines protocol membership that the naming
    scheme cannot (the anonymised CeFA challenge folders); then those lists are the protocols.
    """

    recordings: list[Recording] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: What the walk notes without refusing: recordings kept with a caveat (no annotation file: the detector finds
    #: their faces) and files of the release left out by design (Replay-Attack's enrollment videos): ``--strict``
    #: does not count them.
    notes: list[Problem] = field(default_factory=list)
    memberships: list[ListEntry] = field(default_factory=list)

    def add(self, recording: Recording | None = None, problem: Problem | None = None) -> None:
        if recording is not None:
            self.recordings.append(recording)
        if problem is not None:
            self.problems.append(problem)


def paired_frame_numbers(numbers: Mapping[str, Sequence[int]]) -> list[int]:
    """The frame numbers every modality has, ascending: modalities are paired by frame number, never by
    position (the releases drop a frame from one stream when no face was found in it)."""
    sets = [set(int(n) for n in values) for values in numbers.values()]
    return sorted(set.intersection(*sets)) if sets else []


def manifest_frame_numbers(video: Mapping[str, Any]) -> dict[str, list[int]]:
    """Per modality of a ``videos.parquet`` row, its frame numbers (the ``frame_numbers_<m>`` columns)."""
    numbers = {}
    for modality in MODALITIES:
        values = video.get(f"frame_numbers_{modality}")
        if isinstance(video.get(f"path_{modality}"), str) and values is not None:
            numbers[modality] = [int(n) for n in values]
    return numbers
