"""MSU-MFSD: 280 videos of 35 clients, each filmed by a laptop and an Android phone, live and attacked.

Layout (the raw root is the folder holding ``MSU-MFSD/`` or that folder itself; a copy without the
``scene01/`` level, ``real/`` and ``attack/`` directly in it, is read too)::

    MSU-MFSD/train_sub_list.txt, MSU-MFSD/test_sub_list.txt          (client numbers, one a line: 02)
    MSU-MFSD/scene01/real/real_client001_{android,laptop}_SD_scene01.{mp4,mov}        (+ .face beside each)
    MSU-MFSD/scene01/attack/attack_client001_{android,laptop}_SD_{ipad_video,iphone_video,printed_photo}_scene01.{mp4,mov}

Android videos are ``.mp4`` (720×480), laptop videos ``.mov`` (640×480). ``printed_photo`` is a print;
``ipad_video`` and ``iphone_video`` replay a video on a screen (``replay``). The split is by client:
``train_sub_list.txt`` (15 clients) and ``test_sub_list.txt`` (20); there is no dev split
(``protocols/msu_mfsd.yaml`` makes dev the training split, ``same_as``). A missing or malformed sub list, or
one client in both, stops the index with one line (no recording's split can be trusted); a video whose
client is in neither list is reported (``unlisted_client``) and the others are kept.

Six Android bona fide videos (clients 3, 5, 6, 7, 8, 9; bob.db.msu_mfsd_mod flips them on load) were
recorded with the phone upside down: their pixels are stored upside down and the container's display
matrix says "turn 180°" (bob's reader ignored the matrix, hence its flip; a decoder that applies it shows
them upright). The index records the rotation (``rotation``, from the header) and gives those videos to
the detector, since the release's face boxes were found on the stored pixels (bob.pad.face: "not
reliable, because the videos are not correctly oriented"); it notes each one (``rotated_video``).

Face files, where shipped, are comma-separated ``frame, x1, y1, x2, y2, left eye x, y, right eye x, y``;
frame 0 is the first (as bob reads them; assumed, not stated by the sources checked). Lists understood:
CASIA-FAS-Dataset's ``MSU_MFSD/video_{train,dev,test}.txt`` (**0 = bona fide**; dev repeats train).
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np

from .boxes import read_frame_boxes
from .listfiles import FasDatasetLists
from .probe import readable_frame_count, video_rotation
from .records import Problem, Recording, Scan, ScanError, make_recording
from .walk import release_base, subdirs, video_folder
from ..errors import UsageError

NAME = "msu_mfsd"
#: What a raw root holds, for messages: the release's own top folder as it ships.
LAYOUT = ("MSU-MFSD/scene01/{real,attack}/*.{mp4,mov} (with the .face files beside them) and "
          "MSU-MFSD/{train,test}_sub_list.txt")
MODALITIES = ("rgb",)
TOP_FOLDER = "MSU-MFSD"
SCENE_FOLDER = "scene01"
SUB_LISTS = {"train": "train_sub_list.txt", "test": "test_sub_list.txt"}
#: Camera → the container it recorded into.
CAMERAS = {"android": ".mp4", "laptop": ".mov"}
#: Attack medium → attack_type
MEDIA = {"printed_photo": "print", "ipad_video": "replay", "iphone_video": "replay"}

_REAL = re.compile(r"^real_client(?P<client>\d{3})_(?P<camera>android|laptop)_SD_scene01$")
_ATTACK = re.compile(r"^attack_client(?P<client>\d{3})_(?P<camera>android|laptop)_SD_"
                     r"(?P<medium>ipad_video|iphone_video|printed_photo)_scene01$")


def scan(root: Path) -> Scan:
    """Walk an MSU-MFSD raw tree; the sub lists at its top place each client in train or test."""
    found = Scan()
    base = release_base(root, TOP_FOLDER, (SCENE_FOLDER, "real", "attack"))
    if not base.is_dir():
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/ folder"))
        return found
    clients = read_sub_lists(base)
    videos = base / SCENE_FOLDER if (base / SCENE_FOLDER).is_dir() else base
    allowed = {"real", "attack"}
    class_dirs = subdirs(videos, found, root, allowed) if videos != base else \
        [videos / name for name in sorted(allowed) if (videos / name).is_dir()]
    for class_dir in class_dirs:
        video_folder(class_dir, found, root, ".face", lambda p: _parse(p, root, clients))
    for recording in found.recordings:
        if recording.attributes["rotation"] and recording.annotation:
            detail = (f"stored rotated by {recording.attributes['rotation']}°: its face file was made on the stored "
                      "pixels, so a detector finds its faces")
            found.notes.append(Problem(recording.paths["rgb"], "rotated_video", detail))
    return found


def read_sub_lists(base: Path) -> dict[int, str]:
    """Client number → ``train`` or ``test``, from the release's two sub lists; a missing or malformed list,
    or a client in both, raises :class:`UsageError` (one line: the file and what to do)."""
    clients: dict[int, str] = {}
    for split, name in SUB_LISTS.items():
        path = base / name
        if not path.is_file():
            raise UsageError(f"{path} is missing: MSU-MFSD's split is by client, listed in {SUB_LISTS['train']} "
                             f"and {SUB_LISTS['test']} at the release's top (beside {SCENE_FOLDER}/); put them there")
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            for token in line.replace(",", " ").split():
                if not token.isdigit():
                    raise UsageError(f"{path}:{number}: {token!r} is not a client number (expected e.g. 02)")
                client = int(token)
                if clients.get(client, split) != split:
                    raise UsageError(f"{path}:{number}: client {token} is also in {SUB_LISTS[clients[client]]}: "
                                     "a client is in one split only")
                clients[client] = split
        if split not in clients.values():
            raise UsageError(f"{path} lists no client: expected the release's client numbers, one a line (e.g. 02)")
    return clients


def _parse(video: Path, root: Path, clients: dict[int, str]) -> Recording:
    in_attack = video.parent.name == "attack"
    real, attack = _REAL.match(video.stem), _ATTACK.match(video.stem)
    if (real and in_attack) or (attack and not in_attack):
        raise ScanError("inconsistent_name", f"{'a real' if real else 'an attack'} name under {video.parent.name}/")
    match = attack if in_attack else real
    if match is None:
        expected = ("attack_client001_{android,laptop}_SD_{ipad_video,iphone_video,printed_photo}_scene01"
                    if in_attack else "real_client001_{android,laptop}_SD_scene01")
        raise ScanError("malformed_name", f"expected {expected}")
    if video.suffix.lower() != CAMERAS[match["camera"]]:
        raise ScanError("inconsistent_name", f"{match['camera']} videos are {CAMERAS[match['camera']]} files")
    client = int(match["client"])
    if client not in clients:
        raise ScanError("unlisted_client", f"client {match['client']} is in neither {SUB_LISTS['train']} nor "
                                           f"{SUB_LISTS['test']}: its split is unknown")
    n_frames = readable_frame_count(video)
    rotation = video_rotation(video)
    annotation = video.with_suffix(".face")
    has_boxes = annotation.is_file()
    medium = attack["medium"] if attack else None
    return make_recording(
        video_id=video.stem,
        dataset=NAME,
        subject=match["client"],
        attack_type=MEDIA[medium] if medium else "bonafide",
        attack_detail=medium or "",
        source_split=clients[client],
        paths={"rgb": video.relative_to(root).as_posix()},
        frame_numbers={"rgb": tuple(range(n_frames))},
        attributes={"client_id": client, "camera": match["camera"], "medium": medium, "rotation": rotation},
        face_source="face_file" if has_boxes and not rotation else "detector",
        annotation=annotation.relative_to(root).as_posix() if has_boxes else None,
    )


def video_id(rel: PurePosixPath) -> str:
    return rel.name


def release_path(path: str) -> PurePosixPath:
    """A ``path_rgb`` as CASIA-FAS-Dataset writes it: ``real/real_client002_laptop_SD_scene01``."""
    return PurePosixPath(*PurePosixPath(path).with_suffix("").parts[-2:])


LISTS = FasDatasetLists("MSU_MFSD", "grandtest", video_id, release_path)

#: The adapter's list reader and writer: CASIA-FAS-Dataset's ``MSU_MFSD/video_{train,dev,test}.txt``.
read_lists, format_lists = LISTS.read, LISTS.format


# -- the face files beside each video ----------------------------------------------------------------
def read_face_file(path: Path) -> np.ndarray:
    """``frame, x1, y1, x2, y2, left eye x, y, right eye x, y`` lines → ``(n, 4)`` x1 y1 x2 y2, NaN rows
    for frames without a face (the eyes are not used: the crop is the box's)."""
    return read_frame_boxes(path, 9, lambda values: (values[0], values[1], values[2], values[3]))
