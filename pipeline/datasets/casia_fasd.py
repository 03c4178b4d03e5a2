"""CASIA-FASD: RGB videos of 50 subjects, 12 per subject, in three qualities; no face annotations.

Layout (the raw root is the folder holding ``CASIA_faceAntisp/`` or that folder itself)::

    CASIA_faceAntisp/train_release/{1..20}/{1..8,HR_1..HR_4}.avi
    CASIA_faceAntisp/test_release/{1..30}/{1..8,HR_1..HR_4}.avi

File names (bob.db.casia_fasd, Zhang et al. ICB 2012): ``1``, ``2``, ``HR_1`` bona fide; ``3``, ``4``,
``HR_2`` warped printed photo (``print``); ``5``, ``6``, ``HR_3`` printed photo with the eyes cut out
(``cut_print``: the attacker blinks behind it); ``7``, ``8``, ``HR_4`` video replay (``replay``). Odd
numbers are normal quality, even numbers low quality (both 640×480), ``HR_*`` high quality (1280×720).

Subjects: the test folders restart at 1, so the test subject is the folder number + 20, as bob numbers
them (``get_clientid``): train 1–20 and test 21–50 never collide. The release has no dev split:
``protocols/casia_fasd.yaml`` makes its dev the training split (``same_as``).

The release ships no face annotations. bob.db.casia_fasd ships per-frame boxes in a ``face-locations/``
tree mirroring the release (``train_release/1/HR_1.face``, lines ``frame x y w h``, frame 0 first; a frame
without a face is left out or written ``0 0 0 0 0``): ``python -m pipeline.index --annotations DIR``
names that folder (inside the raw root) and the shard stage then crops with those boxes; without it a
detector finds the faces. Lists understood: CASIA-FAS-Dataset's ``CASIA_FASD/video_{train,dev,test}.txt``
(**0 = bona fide**; their dev list repeats the training list).

Assumed, not in the sources checked: nothing about the containers beyond the ``.avi`` suffix (the demo
writes MJPEG).
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from .listfiles import FasDatasetLists
from .probe import VIDEO_SUFFIXES, readable_frame_count
from .records import Problem, Recording, Scan, ScanError, make_recording
from .replay_attack import read_face_file as read_face_file  # bob's CASIA-FASD boxes: Replay-Attack's format
from .walk import add_parsed, add_video, mirrored_annotations, release_base, subdirs
from ..paths import escapes_root

NAME = "casia_fasd"
#: What a raw root holds, for messages: the release's own top folder as it ships.
LAYOUT = "CASIA_faceAntisp/{train_release/1..20,test_release/1..30}/{1..8,HR_1..HR_4}.avi"
MODALITIES = ("rgb",)
TOP_FOLDER = "CASIA_faceAntisp"
SPLIT_FOLDERS = {"train_release": "train", "test_release": "test"}
#: Subject folders of each split, and what is added to a folder number to make the subject id.
FOLDERS = {"train": range(1, 21), "test": range(1, 31)}
SUBJECT_OFFSET = {"train": 0, "test": 20}
#: File stem → (attack_type, presentation, quality)
FILES = {
    "1": ("bonafide", "real", "normal"), "2": ("bonafide", "real", "low"), "HR_1": ("bonafide", "real", "high"),
    "3": ("print", "warped_photo", "normal"), "4": ("print", "warped_photo", "low"),
    "HR_2": ("print", "warped_photo", "high"),
    "5": ("cut_print", "cut_photo", "normal"), "6": ("cut_print", "cut_photo", "low"),
    "HR_3": ("cut_print", "cut_photo", "high"),
    "7": ("replay", "video", "normal"), "8": ("replay", "video", "low"), "HR_4": ("replay", "video", "high"),
}
#: What ``--annotations`` takes for this dataset (a dataset without this attribute ships its own).
ANNOTATIONS = "bob.db.casia_fasd's face-locations/ folder: a .face file per video, lines 'frame x y w h'"


def scan(root: Path, annotations: Path | None = None) -> Scan:
    """Walk a CASIA-FASD raw tree; ``annotations``: a folder inside ``root`` mirroring the release with a
    ``.face`` file per video (bob's face-locations)."""
    found = Scan()
    base = release_base(root, TOP_FOLDER, tuple(SPLIT_FOLDERS))
    if not base.is_dir():
        found.add(problem=Problem(str(root), "missing_root", f"no {TOP_FOLDER}/ folder"))
        return found
    faces = _annotation_folder(root, annotations)

    def parse(video: Path) -> Recording:
        return _parse(video, root, base, faces)

    for split_dir in subdirs(base, found, root, set(SPLIT_FOLDERS)):
        split = SPLIT_FOLDERS[split_dir.name]
        for subject_dir in subdirs(split_dir, found, root, {str(n) for n in FOLDERS[split]}):
            for entry in sorted(subject_dir.iterdir()):
                if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
                    if faces is None:  # no annotations anywhere: nothing to note per video
                        add_parsed(found, root, entry, parse)
                    else:
                        add_video(found, root, entry, parse, f".face file in {faces}/")
                else:
                    rel = entry.relative_to(root).as_posix()
                    found.add(problem=Problem(rel, "unexpected_file", "expected the release's .avi videos only"))
    if faces is not None:
        mirrored_annotations(root / faces, base, ".face", found, root)
    return found


def _annotation_folder(root: Path, annotations: Path | None) -> PurePosixPath | None:
    """``annotations`` relative to ``root``: the shard stage reads annotation files only under the raw root."""
    if annotations is None:
        return None
    inside = os.path.relpath(os.path.abspath(annotations), os.path.abspath(root))
    if escapes_root(inside):
        raise ValueError(f"annotations {annotations} must lie inside the raw root {root}")
    return PurePosixPath(Path(inside).as_posix())


def _parse(video: Path, root: Path, base: Path, faces: PurePosixPath | None) -> Recording:
    if video.stem not in FILES:
        raise ScanError("malformed_name", f"expected one of {', '.join(FILES)} (.avi)")
    attack_type, presentation, quality = FILES[video.stem]
    rel = PurePosixPath(video.relative_to(base).with_suffix("").as_posix())  # train_release/8/HR_1
    split = SPLIT_FOLDERS[rel.parts[0]]
    folder = int(rel.parts[1])
    n_frames = readable_frame_count(video)
    annotation = None if faces is None else faces / rel.with_suffix(".face")
    if annotation is not None and not (root / annotation).is_file():
        annotation = None  # noted by the walk: the detector finds its faces
    subject = folder + SUBJECT_OFFSET[split]
    return make_recording(
        video_id=video_id(rel),
        dataset=NAME,
        subject=f"{subject:02d}",
        attack_type=attack_type,
        attack_detail="" if attack_type == "bonafide" else f"{presentation}_{quality}",
        source_split=split,
        paths={"rgb": video.relative_to(root).as_posix()},
        frame_numbers={"rgb": tuple(range(n_frames))},
        attributes={"subject_id": subject, "folder": folder, "file": video.stem, "presentation": presentation,
                    "quality": quality},
        face_source="detector" if annotation is None else "face_file",
        annotation=None if annotation is None else annotation.as_posix(),
    )


def video_id(rel: PurePosixPath) -> str:
    """``train_release/8/HR_1`` → ``train_release-8-HR_1`` (the folder numbers restart in each split)."""
    return "-".join(rel.parts[-3:])


def release_path(path: str) -> PurePosixPath:
    """A ``path_rgb`` as the path inside the release, without suffix (``train_release/8/HR_1``)."""
    return PurePosixPath(*PurePosixPath(path).with_suffix("").parts[-3:])


LISTS = FasDatasetLists("CASIA_FASD", "grandtest", video_id, release_path)

#: The adapter's list reader and writer: CASIA-FAS-Dataset's ``CASIA_FASD/video_{train,dev,test}.txt``.
read_lists, format_lists = LISTS.read, LISTS.format

