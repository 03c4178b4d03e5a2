"""CASIA-SURF CeFA: RGB, depth and IR frame folders, in the public release or the CVPR 2020 challenge layout.

Public release (recordings named Race_ID_Device_Session_PAI, masks Mask_ID_Dresses_Glasses_Device_Session_Lighting)::

    CASIA_CeFA/Ethnicity/AF/AF-120/1_120_1_1_1/{color,depth,ir}/0001.jpg
    CASIA_CeFA/Mask/3D-Mask/073/1_073_1_0_2_1_2/{color,depth,ir}/0001.jpg

Challenge release (Protocol 4 only)::

    train/1_031_1_1_1/{profile,depth,ir}/0001.jpg, dev/003000/…, test/000001/…, 4@1_train.txt, 4@1_dev_ref.txt, …

Official lists: public ``CASIA_CeFA@p4.1_video_train.txt`` (``… /color 0``, **0 = bona fide**);
challenge ``4@1_train.txt`` / ``4@1_dev_ref.txt`` / ``4@1_test_ref.txt`` (**1 = bona fide**).
"""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import pandas as pd

from .listfiles import BinaryLabels, read_list_files
from .probe import frame_folder_modalities, locate
from .records import ListEntry, Problem, Recording, Scan, ScanError, make_recording
from .walk import add_parsed, subdirs
from ..protocols import ProtocolSpec

NAME = "cefa"
#: What a raw root holds, for messages: the release's own top folder as it ships.
LAYOUT = ("CASIA_CeFA/Ethnicity/{AF,CA,EA}/AF-120/1_120_1_1_1/{color,depth,ir}/0001.jpg (the public release), "
          "or train/, dev/, test/ with 4@k_*.txt (the CVPR 2020 challenge release)")
MODALITIES = ("rgb", "depth", "ir")
TOP_FOLDER = "CASIA_CeFA"

ETHNICITIES = {1: "AF", 2: "CA", 3: "EA"}
DEVICES = {1: "rssdk", 2: "mp4", 3: "bag", 4: "MOV"}
SESSIONS = {1: "indoor", 2: "outdoor", 3: "random"}
#: PAI code → (attack_type, attack_detail)
PAIS = {1: ("bonafide", ""), 2: ("print", "cloth"), 3: ("print", "photo"), 4: ("replay", "screen")}
MASKS = {"3D-Mask": (1, "mask3d", "3d_print"), "Silicone-Mask": (2, "silicone", "silica_gel")}
#: Subject-id ranges of the release's train / dev / test subjects.
SUBJECT_SPLITS = (("train", 0, 199), ("dev", 200, 299), ("test", 300, 499))

PUBLIC_FOLDERS = {"rgb": "color", "depth": "depth", "ir": "ir"}
CHALLENGE_FOLDERS = {"rgb": "profile", "depth": "depth", "ir": "ir"}

_CODE_2D = re.compile(r"^(?P<race>[1-3])_(?P<id>\d{3})_(?P<device>[1-4])_(?P<session>[1-3])_(?P<pai>[1-4])$")
_CODE_MASK = re.compile(
    r"^(?P<mask>[12])_(?P<id>\d{3})_(?P<dresses>[01])_(?P<glasses>[01])_(?P<device>[1-4])_(?P<session>[1-3])_(?P<lighting>\d)$"
)
_PUBLIC_LIST = re.compile(r"(^|/)CASIA_CeFA@(?P<protocol>p\d\.\d)_video_(?P<split>train|dev|test)\.txt$")
_CHALLENGE_LIST = re.compile(r"^(?P<protocol>4@\d)_(?P<split>train|dev_ref|test_ref)\.txt$")
_ANONYMISED = re.compile(r"^\d{6}$")


# -- label polarity: decided here, once per list format -------------------------------------------
#: Public-release lists: ``0`` = bona fide, ``1`` = attack.
PUBLIC_LABELS = BinaryLabels(bonafide="0")
#: Challenge lists: ``1`` = bona fide, ``0`` = attack.
CHALLENGE_LABELS = BinaryLabels(bonafide="1")


# -- scanning -------------------------------------------------------------------------------------
def is_challenge_layout(root: Path) -> bool:
    return (root / "train").is_dir() and any(root.glob("4@*_train.txt"))


def scan(root: Path) -> Scan:
    """Walk a CeFA raw tree (either release) and return its recordings and problems."""
    if is_challenge_layout(root):
        return _scan_challenge(root)
    found = Scan()
    base = locate(root, TOP_FOLDER)
    if not base.is_dir():
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/ and no challenge lists"))
        return found
    for ethnicity_dir in subdirs(base / "Ethnicity", found, root, set(ETHNICITIES.values())):
        for subject_dir in subdirs(ethnicity_dir, found, root):
            for recording_dir in subdirs(subject_dir, found, root):
                add_parsed(found, root, recording_dir, lambda d: _parse_2d(d, root, PUBLIC_FOLDERS))
    for mask_dir in subdirs(base / "Mask", found, root, set(MASKS)):
        for subject_dir in subdirs(mask_dir, found, root):
            for recording_dir in subdirs(subject_dir, found, root):
                add_parsed(found, root, recording_dir, lambda d: _parse_mask(d, root))
    return found


def _parse_2d(recording_dir: Path, root: Path, folders: dict[str, str], video_id: str | None = None) -> Recording:
    match = _CODE_2D.match(recording_dir.name)
    if not match:
        raise ScanError("malformed_name", "expected Race_ID_Device_Session_PAI like 1_120_1_1_1")
    code = {k: int(v) for k, v in match.groupdict().items()}
    ethnicity = ETHNICITIES[code["race"]]
    subject_folder = recording_dir.parent.name
    if folders is PUBLIC_FOLDERS and subject_folder != f"{ethnicity}-{match['id']}":
        raise ScanError("inconsistent_name", f"folder {subject_folder!r} does not match code {recording_dir.name!r}")
    attack_type, attack_detail = PAIS[code["pai"]]
    paths, numbers = frame_folder_modalities(recording_dir, folders, root)
    return make_recording(
        video_id=video_id or recording_dir.name,
        dataset=NAME,
        subject=f"{ethnicity}-{match['id']}",
        attack_type=attack_type,
        attack_detail=attack_detail,
        source_split=_subject_split(code["id"]),
        paths=paths,
        frame_numbers=numbers,
        face_source="black_border",
        attributes={
            "release": "challenge" if folders is CHALLENGE_FOLDERS else "public",
            "ethnicity": ethnicity,
            "subject_id": code["id"],
            "device": DEVICES[code["device"]],
            "session": SESSIONS[code["session"]],
            "pai": code["pai"],
        },
    )


def _parse_mask(recording_dir: Path, root: Path) -> Recording:
    match = _CODE_MASK.match(recording_dir.name)
    if not match:
        raise ScanError("malformed_name",
                        "expected Mask_ID_Dresses_Glasses_Device_Session_Lighting like 1_073_1_0_2_1_2")
    code = {k: int(v) for k, v in match.groupdict().items()}
    mask_code, attack_type, attack_detail = MASKS[recording_dir.parent.parent.name]
    if code["mask"] != mask_code or recording_dir.parent.name != match["id"]:
        raise ScanError("inconsistent_name", f"{recording_dir.name!r} does not belong under {recording_dir.parent}")
    paths, numbers = frame_folder_modalities(recording_dir, PUBLIC_FOLDERS, root)
    return make_recording(
        video_id=recording_dir.name,
        dataset=NAME,
        subject=f"{attack_type}-{match['id']}",
        attack_type=attack_type,
        attack_detail=attack_detail,
        source_split="test",  # every mask recording belongs to the test sets
        paths=paths,
        frame_numbers=numbers,
        face_source="black_border",
        attributes={
            "release": "public",
            "mask_id": code["id"],  # mask identities are not the 2D subjects: no subject_id
            "device": DEVICES[code["device"]],
            "session": SESSIONS[code["session"]],
            "dresses": code["dresses"],
            "glasses": code["glasses"],
            "lighting": code["lighting"],
        },
    )


def _subject_split(subject_id: int) -> str:
    for split, low, high in SUBJECT_SPLITS:
        if low <= subject_id <= high:
            return split
    raise ScanError("malformed_name", f"subject id {subject_id} is outside 000-499")


# -- challenge release ----------------------------------------------------------------------------
def _scan_challenge(root: Path) -> Scan:
    found = Scan()
    found.memberships = read_challenge_lists(root)
    labels = {entry.video_id: entry.is_bonafide for entry in found.memberships}
    for recording_dir in subdirs(root / "train", found, root):
        add_parsed(found, root, recording_dir, lambda d: _parse_2d(d, root, CHALLENGE_FOLDERS))
    for split in ("dev", "test"):
        for recording_dir in subdirs(root / split, found, root):
            add_parsed(found, root, recording_dir, partial(_parse_anonymised, root=root, split=split, labels=labels))
    return found


def _parse_anonymised(recording_dir: Path, root: Path, split: str, labels: dict[str, bool]) -> Recording:
    if not _ANONYMISED.match(recording_dir.name):
        raise ScanError("malformed_name", "expected a six-digit anonymised folder like 003000")
    video_id = f"{split}-{recording_dir.name}"
    if video_id not in labels:
        raise ScanError("unlabelled", f"no label for {split}/{recording_dir.name} in any 4@k_{split}_ref.txt")
    paths, numbers = frame_folder_modalities(recording_dir, CHALLENGE_FOLDERS, root)
    return make_recording(
        video_id=video_id,
        dataset=NAME,
        # the real subject is hidden by the release; each anonymised recording stands for itself
        subject=video_id,
        attack_type="bonafide" if labels[video_id] else "unknown",
        attack_detail="",
        source_split=split,
        paths=paths,
        frame_numbers=numbers,
        face_source="black_border",
        attributes={"release": "challenge"},
    )


def read_challenge_lists(root: Path) -> list[ListEntry]:
    """Membership and labels of the challenge lists (``4@k_train.txt`` lists frames, the others recordings)."""
    entries = read_list_files(root, _CHALLENGE_LIST, _parse_challenge_line, recursive=False)
    unique = {(e.protocol, e.split, e.video_id): e for e in entries}  # one entry per recording, not per frame
    return list(unique.values())


def _parse_challenge_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    kind, name = Path(tokens[0]).parts[:2]  # train/1_031_1_1_1[/profile/0001.jpg] or dev/003000
    video_id = name if kind == "train" else f"{kind}-{name}"
    split = match["split"].split("_")[0]
    return ListEntry(match["protocol"], split, video_id, CHALLENGE_LABELS.parse(tokens[-1]), source)


# -- official lists of the public release ---------------------------------------------------------
def read_lists(lists_dir: Path) -> list[ListEntry]:
    """Parse every ``CASIA_CeFA@pX.Y_video_{train,dev,test}.txt`` under ``lists_dir``."""
    return read_list_files(lists_dir, _PUBLIC_LIST, _parse_public_line)


def _parse_public_line(match: re.Match, tokens: list[str], source: str) -> ListEntry:
    rel, token = tokens  # CASIA_CeFA/Ethnicity/AF/AF-120/1_120_1_1_1/color 0
    return ListEntry(match["protocol"], match["split"], Path(rel).parent.name, PUBLIC_LABELS.parse(token), source)


def format_lists(members: pd.DataFrame, spec: ProtocolSpec) -> dict[str, list[str]]:
    """Public-release list files for the protocols that have one (``p1.1`` … ``p4.5``)."""
    files: dict[str, list[str]] = {}
    for (protocol, split), rows in members.groupby(["protocol", "split"]):
        alias = next((a for a in spec.protocols[protocol].aliases if a.startswith("p")), None)
        if alias is None:
            continue  # Protocol 3 has no published list format
        files[f"CASIA_CeFA@{alias}_video_{split}.txt"] = [
            f"{path} {PUBLIC_LABELS.format(bonafide)}" for path, bonafide in zip(rows["path_rgb"], rows["is_bonafide"])
        ]
    return files
