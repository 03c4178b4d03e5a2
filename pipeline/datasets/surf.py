"""CASIA-SURF (re-release): RGB, depth and IR frame folders of real faces and cut A4 prints.

Layout::

    CASIA_SURF/Data/{Training,Val,Testing}/{real_part,fake_part}/CLKJ_AS0005/{real.rssdk,04_en_b.rssdk}/{color,depth,ir}/0001.jpg

Attack folders ``NN_cut_shape``: cut ``e`` eyes, ``en`` eyes+nose, ``enm`` eyes+nose+mouth; shape ``s``
flat, ``b`` bent. Training holds attacks 4–6, Val and Testing attacks 1–3.
Official lists ``CASIA_SURF@p1_video_{train,dev,test}.txt``: ``… /real.rssdk/color 0``, **0 = bona fide**.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .listfiles import BinaryLabels, read_list_files
from .probe import frame_folder_modalities, locate
from .records import ListEntry, Problem, Recording, Scan, ScanError, make_recording
from .walk import add_parsed, subdirs
from ..protocols import ProtocolSpec

NAME = "surf"
#: What a raw root holds, for messages: the release's own top folder as it ships.
LAYOUT = "CASIA_SURF/Data/{Training,Val,Testing}/{real_part,fake_part}/CLKJ_AS0005/real.rssdk/{color,depth,ir}/1.jpg"
MODALITIES = ("rgb", "depth", "ir")
TOP_FOLDER = "CASIA_SURF"
SPLIT_FOLDERS = {"Training": "train", "Val": "dev", "Testing": "test"}
FOLDERS = {"rgb": "color", "depth": "depth", "ir": "ir"}
CUTS = {"e": "eyes", "en": "eyes_nose", "enm": "eyes_nose_mouth"}
SHAPES = {"s": "flat", "b": "bent"}

_SUBJECT = re.compile(r"^[A-Z]+_[A-Z]+\d{4}$")
_ATTACK = re.compile(r"^(?P<code>0[1-6])_(?P<cut>e|en|enm)_(?P<shape>s|b)\.rssdk$")
_LIST = re.compile(r"(^|/)CASIA_SURF@(?P<protocol>p\d+)_video_(?P<split>train|dev|test)\.txt$")


#: Re-release lists: ``0`` = bona fide, ``1`` = attack.
LIST_LABELS = BinaryLabels(bonafide="0")


def video_id_for(subject: str, folder_name: str) -> str:
    """``CLKJ_AS0005-real`` / ``CLKJ_AS0005-04_en_b``: the ``.rssdk`` suffix never reaches an id."""
    return f"{subject}-{folder_name.removesuffix('.rssdk')}"


def scan(root: Path) -> Scan:
    """Walk a CASIA-SURF raw tree and return its recordings and problems."""
    found = Scan()
    data = locate(root, TOP_FOLDER) / "Data"
    if not data.is_dir():
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/Data folder"))
        return found
    for split_dir in subdirs(data, found, root, set(SPLIT_FOLDERS)):
        for part_dir in subdirs(split_dir, found, root, {"real_part", "fake_part"}):
            for subject_dir in subdirs(part_dir, found, root):
                for recording_dir in subdirs(subject_dir, found, root):
                    add_parsed(found, root, recording_dir, lambda d: _parse(d, root))
    return found


def _parse(recording_dir: Path, root: Path) -> Recording:
    subject = recording_dir.parent.name
    part = recording_dir.parent.parent.name
    if not _SUBJECT.match(subject):
        raise ScanError("malformed_name", f"subject folder {subject!r} is not like CLKJ_AS0005")
    attributes: dict = {"split_folder": recording_dir.parents[2].name}
    if part == "real_part":
        if recording_dir.name != "real.rssdk":
            raise ScanError("malformed_name", "real_part recordings are named real.rssdk")
        attack_type, attack_detail, attack_code = "bonafide", "", 0
    else:
        match = _ATTACK.match(recording_dir.name)
        if not match:
            raise ScanError("malformed_name", "fake_part recordings are named like 04_en_b.rssdk")
        attack_type, attack_code = "cut_print", int(match["code"])
        attack_detail = f"{CUTS[match['cut']]}_{SHAPES[match['shape']]}"
    attributes["attack_code"] = attack_code
    paths, numbers = frame_folder_modalities(recording_dir, FOLDERS, root)
    return make_recording(
        video_id=video_id_for(subject, recording_dir.name),
        dataset=NAME,
        subject=subject,
        attack_type=attack_type,
        attack_detail=attack_detail,
        source_split=SPLIT_FOLDERS[attributes["split_folder"]],
        paths=paths,
        frame_numbers=numbers,
        face_source="black_border",
        attributes=attributes,
    )


def read_lists(lists_dir: Path) -> list[ListEntry]:
    """Parse every ``CASIA_SURF@p1_video_{train,dev,test}.txt`` under ``lists_dir``."""
    return read_list_files(lists_dir, _LIST, _parse_list_line)


def _parse_list_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    rel, token = tokens
    parts = Path(rel).parts  # …/CLKJ_AS0005/real.rssdk/color
    return ListEntry(match["protocol"], match["split"], video_id_for(parts[-3], parts[-2]), LIST_LABELS.parse(token),
                     source)


def format_lists(members: pd.DataFrame, spec: ProtocolSpec) -> dict[str, list[str]]:
    """Re-release list files ``CASIA_SURF@p1_video_{train,dev,test}.txt``."""
    return {
        f"CASIA_SURF@p1_video_{split}.txt": [
            f"{path} {LIST_LABELS.format(bonafide)}" for path, bonafide in zip(rows["path_rgb"], rows["is_bonafide"])
        ]
        for (protocol, split), rows in members.groupby(["protocol", "split"])
    }
