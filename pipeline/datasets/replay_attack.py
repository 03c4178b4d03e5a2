"""Idiap Replay-Attack: 320×240 MJPEG webcam videos (about 25 fps) of 50 clients, live and attacked.

Layout (Idiap ships train, devel, test, enroll and face-locations as separate archives; ``replayattack/``
is the folder that holds them, and the raw root may be that folder itself)::

    replayattack/{train,devel,test}/real/client001_session01_webcam_authenticate_{controlled,adverse}_{1,2}.mov
    replayattack/{train,devel,test}/attack/{fixed,hand}/
        attack_{print,mobile,highdef}_client001_session01_{highdef,mobile}_{photo,video}_{controlled,adverse}.mov
    replayattack/enroll/client001_session01_webcam_enroll_{controlled,adverse}.mov
    replayattack/face-locations/<any of the paths above, .face instead of .mov>   (frame x y w h per line)

* Bona fide: the ``real/`` videos (two takes in each light). ``enroll/`` holds the face-recognition
  enrollment videos: never PAD samples, each one noted as left out (``enrollment_video``).
* ``attack_print`` is a printed high-definition photo (``print``); ``attack_mobile`` and ``attack_highdef``
  are an iPhone 3GS and an iPad screen showing a photo or a video (``replay``). The attacks were filmed
  with the medium on a stand (``fixed``) or in the attacker's hands (``hand``), and the same file name is
  under both folders: the support is part of the id (``fixed-attack_print_client001_…``).
* Clients (bob.db.replay: train 15, devel 15, test 20, disjoint), as the published lists name them;
  a video whose client belongs to another split is reported (``inconsistent_name``).
* bob.db.replay's protocols are rules here (``protocols/replay_attack.yaml``): grandtest (every attack),
  print, mobile, highdef (by attack device) and photo, video (by what the medium showed).

Assumed, not in the sources checked (bob.db.replay, bob.pad.face, the CASIA-FAS-Dataset lists): a line of a
``.face`` file with a zero width or height means no face, like a frame left out; ``enroll/`` may hold
sub-folders (bob lists enrollment videos per group). Lists understood: CASIA-FAS-Dataset's
``ReplayAttack/video_{train,dev,test}.txt`` (grandtest, **0 = bona fide**).
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import numpy as np

from .boxes import from_corner_and_size, read_frame_boxes
from .listfiles import FasDatasetLists
from .probe import VIDEO_SUFFIXES, readable_frame_count
from .records import Problem, Recording, Scan, ScanError, make_recording
from .walk import add_video, mirrored_annotations, release_base, subdirs

NAME = "replay_attack"
#: What a raw root holds, for messages.
LAYOUT = ("replayattack/{train,devel,test}/{real,attack/{fixed,hand}}/*.mov, enroll/, and face-locations/ "
          "mirroring them with a .face file per video")
MODALITIES = ("rgb",)
TOP_FOLDER = "replayattack"
SPLIT_FOLDERS = {"train": "train", "devel": "dev", "test": "test"}
SUPPORTS = ("fixed", "hand")
ENROLL_FOLDER = "enroll"
FACE_FOLDER = "face-locations"
#: Clients of each split (the published lists; hliangzhao/Face-Liveness-Detection names the same 50).
CLIENTS = {
    "train": (1, 2, 4, 6, 7, 8, 12, 16, 18, 25, 27, 103, 105, 108, 110),
    "dev": (3, 5, 10, 15, 17, 22, 29, 30, 101, 111, 113, 114, 116, 118, 119),
    "test": (9, 11, 13, 14, 19, 20, 21, 23, 24, 26, 28, 31, 102, 104, 106, 107, 109, 112, 115, 117),
}
CLIENT_SPLITS = {client: split for split, clients in CLIENTS.items() for client in clients}
#: Attack device → the (sample device, sample type) it can show: a print is a printed high-definition photo.
SAMPLES = {"print": (("highdef", "photo"),), "mobile": (("mobile", "photo"), ("mobile", "video")),
           "highdef": (("highdef", "photo"), ("highdef", "video"))}

_REAL = re.compile(r"^client(?P<client>\d{3})_session(?P<session>\d{2})_webcam_authenticate_"
                   r"(?P<light>controlled|adverse)_(?P<take>[12])$")
_ATTACK = re.compile(r"^attack_(?P<device>print|mobile|highdef)_client(?P<client>\d{3})_session(?P<session>\d{2})_"
                     r"(?P<sample_device>highdef|mobile)_(?P<sample_type>photo|video)_(?P<light>controlled|adverse)$")


def scan(root: Path) -> Scan:
    """Walk a Replay-Attack raw tree and return its recordings and problems."""
    found = Scan()
    base = release_base(root, TOP_FOLDER, tuple(SPLIT_FOLDERS))
    if not any((base / folder).is_dir() for folder in SPLIT_FOLDERS):
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/ folder and no train/, devel/, test/"))
        return found
    folders = subdirs(base, found, root, {*SPLIT_FOLDERS, ENROLL_FOLDER, FACE_FOLDER})
    for split_dir in (d for d in folders if d.name in SPLIT_FOLDERS):
        for class_dir in subdirs(split_dir, found, root, {"real", "attack"}):
            video_dirs = [class_dir] if class_dir.name == "real" else subdirs(class_dir, found, root, set(SUPPORTS))
            for folder in video_dirs:
                _videos(folder, found, root, base)
    _skip_enrollment(base / ENROLL_FOLDER, found, root)
    mirrored_annotations(base / FACE_FOLDER, base, ".face", found, root)
    return found


def _videos(folder: Path, found: Scan, root: Path, base: Path) -> None:
    for entry in sorted(folder.iterdir()):
        if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            add_video(found, root, entry, lambda p: _parse(p, root, base), f".face file in {FACE_FOLDER}/")
        else:
            rel = entry.relative_to(root).as_posix()
            found.add(problem=Problem(rel, "unexpected_file", "expected the release's .mov videos only"))


def _skip_enrollment(folder: Path, found: Scan, root: Path) -> None:
    """Every file under ``enroll/`` is noted as left out: enrollment videos are for face recognition, not PAD."""
    if not folder.is_dir():
        return
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if path.suffix.lower() in VIDEO_SUFFIXES:
            detail = "a face-recognition enrollment video (bob.db.replay: purpose 'enroll'), never a PAD sample"
            found.notes.append(Problem(rel, "enrollment_video", detail))
        else:
            found.add(problem=Problem(rel, "unexpected_file", "expected the release's enrollment videos only"))


def _parse(video: Path, root: Path, base: Path) -> Recording:
    rel = PurePosixPath(video.relative_to(base).with_suffix("").as_posix())  # train/attack/fixed/attack_…
    code = _name_code(rel)
    split = SPLIT_FOLDERS[rel.parts[0]]
    owner = CLIENT_SPLITS.get(code["client_id"])
    if owner != split:
        whose = f"a {owner} client" if owner else "no Replay-Attack client"
        raise ScanError("inconsistent_name", f"client {code['client_id']:03d} is {whose}, not one of {rel.parts[0]}/")
    n_frames = readable_frame_count(video)
    annotation = base / FACE_FOLDER / rel.with_suffix(".face")
    has_boxes = annotation.is_file()
    attack = code["attack_device"]
    return make_recording(
        video_id=video_id(rel),
        dataset=NAME,
        subject=f"{code['client_id']:03d}",
        attack_type="bonafide" if attack is None else ("print" if attack == "print" else "replay"),
        attack_detail="" if attack is None else f"{attack}_{code['sample_type']}_{code['support']}",
        source_split=split,
        paths={"rgb": video.relative_to(root).as_posix()},
        frame_numbers={"rgb": tuple(range(n_frames))},
        attributes=code,
        face_source="face_file" if has_boxes else "detector",
        annotation=annotation.relative_to(root).as_posix() if has_boxes else None,
    )


def _name_code(rel: PurePosixPath) -> dict:
    """Typed attributes from a path inside the release (``train/real/client001_…``); a name outside the
    scheme, or in the wrong folder, raises :class:`ScanError`."""
    real, attack = _REAL.match(rel.name), _ATTACK.match(rel.name)
    in_attack = rel.parts[1] == "attack"
    if (real and in_attack) or (attack and not in_attack):
        raise ScanError("inconsistent_name", f"{'a real-access' if real else 'an attack'} name under {rel.parent}/")
    match = attack if in_attack else real
    if match is None:
        expected = ("attack_{print,mobile,highdef}_client001_session01_{highdef,mobile}_{photo,video}_"
                    "{controlled,adverse}" if in_attack else "client001_session01_webcam_authenticate_controlled_1")
        raise ScanError("malformed_name", f"expected {expected}")
    if attack and (attack["sample_device"], attack["sample_type"]) not in SAMPLES[attack["device"]]:
        raise ScanError("inconsistent_name", f"attack_{attack['device']} shows a {attack['sample_device']} "
                                             f"{attack['sample_type']}: expected one of {SAMPLES[attack['device']]}")
    return {
        "client_id": int(match["client"]),
        "session": int(match["session"]),
        "light": match["light"],
        "take": int(real["take"]) if real else None,
        "support": rel.parts[2] if in_attack else None,
        "attack_device": attack["device"] if attack else None,
        "sample_device": attack["sample_device"] if attack else None,
        "sample_type": attack["sample_type"] if attack else None,
    }


def video_id(rel: PurePosixPath) -> str:
    """The id of the video at ``rel`` inside the release (no suffix): its name, with the support in front
    for an attack, whose name is the same under ``fixed/`` and ``hand/``."""
    return f"{rel.parts[2]}-{rel.name}" if rel.parts[1] == "attack" else rel.name


def release_path(path: str) -> PurePosixPath:
    """A ``path_rgb`` (relative to the raw root) as a path inside the release, without suffix."""
    parts = PurePosixPath(path).with_suffix("").parts
    start = max(i for i, part in enumerate(parts) if part in SPLIT_FOLDERS)
    return PurePosixPath(*parts[start:])


LISTS = FasDatasetLists("ReplayAttack", "grandtest", video_id, release_path)

#: The adapter's list reader and writer: CASIA-FAS-Dataset's ``ReplayAttack/video_{train,dev,test}.txt``.
read_lists, format_lists = LISTS.read, LISTS.format


# -- the face-locations files ------------------------------------------------------------------------
def read_face_file(path: Path) -> np.ndarray:
    """bob's ``frame x y w h`` lines (frames without a face left out) → ``(n, 4)`` x1 y1 x2 y2, NaN rows
    where there is no face."""
    return read_frame_boxes(path, 5, from_corner_and_size)
