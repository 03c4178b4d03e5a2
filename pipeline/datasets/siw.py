"""SiW: RGB videos of live faces, prints and replays, with a ``.face`` file of per-frame boxes.

Layout::

    SiW/{Train,Test}/{live,spoof}/003/003-1-1-1-1.mov   (+ 003-1-1-1-1.face)

Name ``subject-sensor-type-medium-session``; type 1 live, 2 print (media 1–2), 3 replay (media 1–4).
Official lists ``SiW@p21_video_{train,val,test}.txt`` (``SiW/Train/live/150/150-1-1-2-2 1``): **1 = bona fide**,
the opposite of CeFA and CASIA-SURF.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .listfiles import BinaryLabels, read_list_files
from .probe import locate, readable_frame_count
from .records import AnnotationError, ListEntry, Problem, Recording, Scan, ScanError, make_recording
from .walk import subdirs, video_folder
from ..protocols import ProtocolSpec

NAME = "siw"
#: What a raw root holds, for messages: the release's own top folder as it ships.
LAYOUT = "SiW/{Train,Test}/{live,spoof}/003/003-1-1-1-1.mov with the .face file beside each video"
MODALITIES = ("rgb",)
TOP_FOLDER = "SiW"
SPLIT_FOLDERS = {"Train": "train", "Test": "test"}
#: Type code → (attack_type, live/spoof folder)
TYPES = {1: ("bonafide", "live"), 2: ("print", "spoof"), 3: ("replay", "spoof")}
MEDIA = {1: range(1, 3), 2: range(1, 3), 3: range(1, 5)}

_NAME = re.compile(r"^(?P<subject>\d{3})-(?P<sensor>\d)-(?P<type>[1-3])-(?P<medium>\d)-(?P<session>\d)$")
_LIST = re.compile(r"(^|/)SiW@p(?P<protocol>\d+)_video_(?P<split>train|val|test)\.txt$")


#: SiW lists: ``1`` = bona fide, ``0`` = attack (the opposite of CeFA and CASIA-SURF).
LIST_LABELS = BinaryLabels(bonafide="1")


def scan(root: Path) -> Scan:
    """Walk a SiW raw tree and return its recordings and problems."""
    found = Scan()
    base = locate(root, TOP_FOLDER)
    if not base.is_dir():
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/ folder"))
        return found
    for split_dir in subdirs(base, found, root, set(SPLIT_FOLDERS)):
        for class_dir in subdirs(split_dir, found, root, {"live", "spoof"}):
            for subject_dir in subdirs(class_dir, found, root):
                video_folder(subject_dir, found, root, ".face", lambda p: _parse(p, root))
    return found


def _parse(video: Path, root: Path) -> Recording:
    match = _NAME.match(video.stem)
    if not match:
        raise ScanError("malformed_name", "expected subject-sensor-type-medium-session like 003-1-1-1-1")
    code = {k: int(v) for k, v in match.groupdict().items()}
    attack_type, class_folder = TYPES[code["type"]]
    if video.parents[1].name != class_folder or video.parent.name != match["subject"]:
        raise ScanError("inconsistent_name", f"type {code['type']} of subject {match['subject']} does not belong here")
    if code["medium"] not in MEDIA[code["type"]]:
        raise ScanError("malformed_name", f"medium {code['medium']} is not valid for type {code['type']}")
    n_frames = readable_frame_count(video)
    annotation = video.with_suffix(".face")
    has_boxes = annotation.is_file()
    return make_recording(
        video_id=video.stem,
        dataset=NAME,
        subject=match["subject"],
        attack_type=attack_type,
        attack_detail="" if attack_type == "bonafide" else f"medium{code['medium']}",
        source_split=SPLIT_FOLDERS[video.parents[2].name],
        paths={"rgb": video.relative_to(root).as_posix()},
        frame_numbers={"rgb": tuple(range(n_frames))},
        attributes={"subject_id": code["subject"], "sensor": code["sensor"], "type": code["type"],
                    "medium": code["medium"], "session": code["session"]},
        face_source="face_file" if has_boxes else "detector",
        annotation=annotation.relative_to(root).as_posix() if has_boxes else None,
    )


def read_lists(lists_dir: Path) -> list[ListEntry]:
    """Parse every ``SiW@pNN_video_{train,val,test}.txt`` under ``lists_dir`` (``val`` is our ``dev``)."""
    return read_list_files(lists_dir, _LIST, _parse_list_line)


def _parse_list_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    rel, token = tokens  # SiW/Train/live/150/150-1-1-2-2 1
    digits = match["protocol"]
    protocol = digits if len(digits) == 1 else f"{digits[0]}_{digits[1:]}"  # p21 → 2_1
    split = "dev" if match["split"] == "val" else match["split"]
    return ListEntry(protocol, split, Path(rel).name, LIST_LABELS.parse(token), source)


def format_lists(members: pd.DataFrame, spec: ProtocolSpec) -> dict[str, list[str]]:
    """List files ``SiW@p21_video_{train,val,test}.txt`` (paths without the video suffix)."""
    files: dict[str, list[str]] = {}
    for (protocol, split), rows in members.groupby(["protocol", "split"]):
        alias = next(a for a in spec.protocols[protocol].aliases if a.startswith("p"))
        name = f"SiW@{alias}_video_{'val' if split == 'dev' else split}.txt"
        files[name] = [
            f"{Path(path).with_suffix('').as_posix()} {LIST_LABELS.format(bonafide)}"
            for path, bonafide in zip(rows["path_rgb"], rows["is_bonafide"])
        ]
    return files


# -- the .face box files beside each video -------------------------------------------------------
def read_face_file(path: Path) -> np.ndarray:
    """``x1 y1 x2 y2`` per frame → ``(n, 4)`` float array, NaN rows where the file says ``0 0 0 0``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        try:
            values = [float(v) for v in line.split()]
            if len(values) != 4:
                raise ValueError(f"{len(values)} values, expected 4")
        except ValueError as error:
            raise AnnotationError(f"{path}:{number}: {line!r}: {error}") from None
        x1, y1, x2, y2 = values
        rows.append(values if x2 > x1 and y2 > y1 else [math.nan] * 4)
    return np.array(rows, dtype=float).reshape(-1, 4)
