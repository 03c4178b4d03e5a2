"""OULU-NPU: RGB videos of 55 users on 6 phones in 3 sessions, with per-frame eye positions.

Layout::

    OULU_NPU/{Train_files,Dev_files,Test_files}/Phone_Session_User_File.avi   (+ .txt eye positions)

File 1 real, 2/3 print (printer 1/2), 4/5 replay (display 1/2). Users 01–20 train, 21–35 dev, 36–55 test.
Lists understood: the official ``Protocols/Protocol_N/{Train,Dev,Test}[_k].txt`` (``+1,1_1_01_1``:
**+1 = bona fide**, negative = attack), bob.db.oulunpu's ``Protocol_N/{train,dev,eval}/for_{real,attack}.lst``
(class by file name) and the cross-dataset ``CFD_video_{train,dev,test}.txt`` (**0 = bona fide**).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .listfiles import BinaryLabels, read_list_files
from .probe import locate, readable_frame_count
from .records import AnnotationError, ListEntry, Problem, Recording, Scan, ScanError, make_recording
from .walk import subdirs, video_folder
from ..protocols import ProtocolSpec

NAME = "oulu"
#: What a raw root holds, for messages: the release's own top folder as it ships.
LAYOUT = "OULU_NPU/{Train,Dev,Test}_files/1_1_01_1.avi with the eye-position .txt beside each video"
MODALITIES = ("rgb",)
TOP_FOLDER = "OULU_NPU"
SPLIT_FOLDERS = {"Train_files": "train", "Dev_files": "dev", "Test_files": "test"}
USER_SPLITS = {"train": range(1, 21), "dev": range(21, 36), "test": range(36, 56)}
#: File code → (attack_type, attack_detail)
FILES = {1: ("bonafide", ""), 2: ("print", "printer1"), 3: ("print", "printer2"),
         4: ("replay", "display1"), 5: ("replay", "display2")}

_NAME = re.compile(r"^(?P<phone>[1-6])_(?P<session>[1-3])_(?P<user>\d{2})_(?P<file>[1-5])$")
_OFFICIAL = re.compile(r"Protocol_(?P<protocol>\d)/(?P<split>Train|Dev|Test)(?:_(?P<fold>[1-6]))?\.txt$")
_BOB = re.compile(r"Protocol_(?P<protocol>\d(?:_\d)?)/(?P<split>train|dev|eval)/for_(?P<cls>real|attack)\.lst$")
_CFD = re.compile(r"(^|/)CFD_video_(?P<split>train|dev|test)\.txt$")
_SPLIT_NAMES = {"Train": "train", "Dev": "dev", "Test": "test", "train": "train", "dev": "dev", "eval": "test"}


# -- label polarity: decided here, once per list format -------------------------------------------
def official_list_label(token: str) -> bool:
    """Official protocol files: ``+1`` = bona fide, ``-1``/``-2`` = attack."""
    if token not in ("+1", "-1", "-2"):
        raise ValueError(f"label {token!r} is not +1, -1 or -2")
    return token == "+1"


#: CFD cross-dataset lists: ``0`` = bona fide (what the files hold for every file-1 video).
CFD_LABELS = BinaryLabels(bonafide="0")


def format_official_label(is_bonafide: bool, attack_type: str) -> str:
    return "+1" if is_bonafide else ("-1" if attack_type == "print" else "-2")


# -- scanning -------------------------------------------------------------------------------------
def scan(root: Path) -> Scan:
    """Walk an OULU-NPU raw tree and return its recordings and problems."""
    found = Scan()
    base = locate(root, TOP_FOLDER)
    if not base.is_dir():
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/ folder"))
        return found
    for split_dir in subdirs(base, found, root, set(SPLIT_FOLDERS)):
        video_folder(split_dir, found, root, ".txt", lambda p: _parse(p, root))
    return found


def _parse(video: Path, root: Path) -> Recording:
    match = _NAME.match(video.stem)
    if not match:
        raise ScanError("malformed_name", "expected Phone_Session_User_File like 1_1_01_1")
    code = {k: int(v) for k, v in match.groupdict().items()}
    split = SPLIT_FOLDERS[video.parent.name]
    if code["user"] not in USER_SPLITS[split]:
        raise ScanError("inconsistent_name", f"user {match['user']} does not belong in {video.parent.name}")
    n_frames = readable_frame_count(video)
    attack_type, attack_detail = FILES[code["file"]]
    annotation = video.with_suffix(".txt")
    has_eyes = annotation.is_file()
    return make_recording(
        video_id=video.stem,
        dataset=NAME,
        subject=match["user"],
        attack_type=attack_type,
        attack_detail=attack_detail,
        source_split=split,
        paths={"rgb": video.relative_to(root).as_posix()},
        frame_numbers={"rgb": tuple(range(n_frames))},
        attributes={"phone": code["phone"], "session": code["session"], "user": code["user"], "file": code["file"]},
        face_source="eyes" if has_eyes else "detector",
        annotation=annotation.relative_to(root).as_posix() if has_eyes else None,
    )


# -- official lists -------------------------------------------------------------------------------
def read_lists(lists_dir: Path) -> list[ListEntry]:
    """Parse the official, bob and CFD list files found under ``lists_dir``."""
    return (
        read_list_files(lists_dir, _OFFICIAL, _parse_official_line)
        + read_list_files(lists_dir, _BOB, _parse_bob_line)
        + read_list_files(lists_dir, _CFD, _parse_cfd_line)
    )


def _parse_official_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    label, name = tokens[0].split(",")  # +1,1_1_01_1
    protocol = match["protocol"] + (f"_{match['fold']}" if match["fold"] else "")
    return ListEntry(protocol, _SPLIT_NAMES[match["split"]], name, official_list_label(label), source)


def _parse_bob_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    name = Path(tokens[0]).name  # Train_files/1_1_01_1 01 [print/1]
    return ListEntry(match["protocol"], _SPLIT_NAMES[match["split"]], name, match["cls"] == "real", source)


def _parse_cfd_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    rel, token = tokens  # OULU_NPU/Train_files/6_3_19_1 0
    return ListEntry("all", match["split"], Path(rel).name, CFD_LABELS.parse(token), source)


def format_lists(members: pd.DataFrame, spec: ProtocolSpec) -> dict[str, list[str]]:
    """Official ``Protocols/Protocol_N/{Train,Dev,Test}[_k].txt`` files, and the CFD lists for ``all``."""
    files: dict[str, list[str]] = {}
    for (protocol, split), rows in members.groupby(["protocol", "split"]):
        if protocol == "all":
            files[f"CFD_video_{split}.txt"] = [
                f"{Path(path).with_suffix('').as_posix()} {CFD_LABELS.format(bonafide)}"
                for path, bonafide in zip(rows["path_rgb"], rows["is_bonafide"])
            ]
            continue
        number, _, fold = protocol.partition("_")
        name = f"Protocols/Protocol_{number}/{split.capitalize()}{'_' + fold if fold else ''}.txt"
        files[name] = [
            f"{format_official_label(bonafide, attack)},{video_id}"
            for video_id, bonafide, attack in zip(rows["video_id"], rows["is_bonafide"], rows["attack_type"])
        ]
    return files


# -- the eye-position files beside each video ---------------------------------------------------
def read_eye_file(path: Path) -> dict[int, np.ndarray]:
    """``frame, x_right_eye, y_right_eye, x_left_eye, y_left_eye`` lines → frame → (4,) float array."""
    eyes = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            frame, *coords = (float(v) for v in line.replace(",", " ").split())
            if len(coords) != 4:
                raise ValueError(f"{len(coords) + 1} values, expected 5")
        except ValueError as error:
            raise AnnotationError(f"{path}:{number}: {line!r}: {error}") from None
        eyes[int(frame)] = np.array(coords)
    return eyes
