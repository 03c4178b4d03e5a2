"""A corpus of bad raw inputs, made from a copy of a tiny demo tree.

Each :class:`BadInput` damages one recording the way real downloads and real datasets are damaged
and says where the pipeline must report it: in the index report (``index_report.json``, the file is
skipped) or in ``rejects.parquet`` (the shard stage) or, for data it can still use, as a flag in
``samples.parquet``. The corruptions of one dataset hit different recordings, so one index + shard
run checks them all.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class BadInput:
    name: str
    dataset: str
    damage: Callable[[Path, pd.Series], None]  # (raw root, the victim's videos.parquet row)
    #: "index": skipped, in index_report.json's problems; "index_note": kept, in its notes;
    #: "videos": kept, listed in a videos.parquet column; "rejects": in rejects.parquet;
    #: "samples": sharded, flagged in a samples.parquet column; "counted": sharded, its frame count in
    #: videos.parquet (the column) the frames the file holds, fewer than its header claims.
    where: str
    reason: str  # the reason code, or for "samples", "videos" and "counted" the column
    detail: str = ""  # a regular expression the reported detail must match (file name, numbers)
    frames_cut: int = 0  # "counted": how many of the recording's frames the damage took out of the file


def _frames(root: Path, row: pd.Series, modality: str) -> list[Path]:
    folder = root / row[f"path_{modality}"]
    return sorted(folder.iterdir(), key=lambda p: int(p.stem))


# --- frame folders (CeFA, CASIA-SURF) --------------------------------------------------------------

def corrupt_jpeg(root: Path, row: pd.Series) -> None:
    _frames(root, row, "rgb")[-1].write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG any more")


def zero_byte_jpeg(root: Path, row: pd.Series) -> None:
    _frames(root, row, "depth")[0].write_bytes(b"")


def empty_modality_folder(root: Path, row: pd.Series) -> None:
    for frame in _frames(root, row, "ir"):
        frame.unlink()


def missing_depth_folder(root: Path, row: pd.Series) -> None:
    shutil.rmtree(root / row["path_depth"])


def ir_frame_missing(root: Path, row: pd.Series) -> None:
    """The release's detector found no face in one IR frame: that number is missing from ir only."""
    _frames(root, row, "ir")[2].unlink()


def duplicate_frame_number(root: Path, row: pd.Series) -> None:
    """A second file for one frame number (``1.jpg`` beside ``0001.jpg``): which one is frame 1?"""
    first = _frames(root, row, "rgb")[0]
    shutil.copy(first, first.with_name(f"{int(first.stem)}.png"))


def black_aligned_frame(root: Path, row: pd.Series) -> None:
    """One frame number whose depth and IR crops hold nothing but black: no face extent to crop."""
    import cv2

    numbers = {p.stem for p in _frames(root, row, "depth")} & {p.stem for p in _frames(root, row, "ir")}
    number = sorted(numbers, key=int)[3]
    for modality in ("depth", "ir"):
        path = root / row[f"path_{modality}"] / f"{number}.jpg"
        cv2.imwrite(str(path), cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) * 0)


def shorter_than_window(root: Path, row: pd.Series) -> None:
    for modality in ("rgb", "depth", "ir"):
        for frame in _frames(root, row, modality)[5:]:  # keep 5 frames: fewer than K = 7
            frame.unlink()


def space_in_name(root: Path, row: pd.Series) -> None:
    folder = (root / row["path_rgb"]).parent
    folder.rename(folder.with_name(folder.name.replace("_", " ", 1)))


def non_utf8_name(root: Path, row: pd.Series) -> None:
    folder = (root / row["path_rgb"]).parent
    target = os.fsencode(folder.parent) + b"/" + os.fsencode(folder.name)[:-1] + b"\xff"
    os.rename(os.fsencode(folder), target)


def duplicate_id(root: Path, row: pd.Series) -> None:
    """A re-encoded copy beside the original: two files, one recording id."""
    video = root / row["path_rgb"]
    shutil.copy(video, video.with_suffix(".mp4"))


# --- videos (OULU-NPU, SiW) ------------------------------------------------------------------------

def truncated_video(root: Path, row: pd.Series) -> None:
    """An AVI cut inside its last frame (a download that stopped): that frame and the index after it are lost."""
    video = root / row["path_rgb"]
    data = video.read_bytes()
    last = data.rindex(b"00dc", 0, data.rindex(b"idx1"))  # the last frame's chunk; idx1, the index, follows it
    video.write_bytes(data[: last + 8 + 16])


def zero_byte_video(root: Path, row: pd.Series) -> None:
    (root / row["path_rgb"]).write_bytes(b"")


def lying_frame_count(root: Path, row: pd.Series) -> None:
    """An AVI whose headers claim 4 times more frames than it holds (a truncated capture)."""
    video = root / row["path_rgb"]
    data = bytearray(video.read_bytes())
    main = data.index(b"avih") + 8 + 16  # dwTotalFrames of the main header
    real = struct.unpack_from("<I", data, main)[0]
    struct.pack_into("<I", data, main, real * 4)
    stream = data.index(b"strh") + 8 + 32  # dwLength of the video stream header
    struct.pack_into("<I", data, stream, real * 4)
    video.write_bytes(bytes(data))


def annotation(root: Path, row: pd.Series) -> Path:
    return root / row["annotation_path"]


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def malformed_eye_file(root: Path, row: pd.Series) -> None:
    replace_line(annotation(root, row), 3, "3, eyes, somewhere")


def missing_annotation(root: Path, row: pd.Series) -> None:
    annotation(root, row).unlink()


def eyes_outside_the_frame(root: Path, row: pd.Series) -> None:
    path = annotation(root, row)
    lines = [line.split(",") for line in path.read_text().splitlines()]
    path.write_text("".join(f"{f[0]},{-5000 - i},{-40},{-4900 - i},{-40}\n" for i, f in enumerate(lines)))


def malformed_face_file(root: Path, row: pd.Series) -> None:
    replace_line(annotation(root, row), 2, "12 34 lots")


def all_zero_face_boxes(root: Path, row: pd.Series) -> None:
    path = annotation(root, row)
    path.write_text("0 0 0 0\n" * len(path.read_text().splitlines()))


def face_boxes_outside_the_frame(root: Path, row: pd.Series) -> None:
    path = annotation(root, row)
    path.write_text("5000 6000 5100 6100\n" * len(path.read_text().splitlines()))


# --- names outside a release's scheme (Replay-Attack, MSU-MFSD) --------------------------------------

def name_outside_the_scheme(root: Path, row: pd.Series) -> None:
    """Replay-Attack: ``session1`` is not the release's ``session01``."""
    video = root / row["path_rgb"]
    video.rename(video.with_name(video.name.replace("session01", "session1")))


def client_in_neither_sub_list(root: Path, row: pd.Series) -> None:
    """MSU-MFSD: client 004 is in neither train_sub_list.txt nor test_sub_list.txt."""
    video = root / row["path_rgb"]
    video.rename(video.with_name(re.sub(r"client\d{3}", "client004", video.name)))


CORPUS: list[BadInput] = [
    BadInput("corrupt_jpeg", "cefa", corrupt_jpeg, "rejects", "decode_error", r"color/\d+\.jpg: not a readable image"),
    BadInput("zero_byte_jpeg", "cefa", zero_byte_jpeg, "rejects", "decode_error",
             r"depth/\d+\.jpg: not a readable image"),
    BadInput("empty_modality_folder", "cefa", empty_modality_folder, "index", "no_frames", "'ir' holds no"),
    BadInput("missing_depth_folder", "cefa", missing_depth_folder, "index", "missing_modality", "no 'depth' folder"),
    BadInput("ir_frame_missing", "cefa", ir_frame_missing, "videos", "missing_frames_ir"),
    BadInput("duplicate_frame_number", "cefa", duplicate_frame_number, "index", "duplicate_frame_number",
             r"^0001\.jpg and 1\.png are both frame 1$"),
    BadInput("black_aligned_frame", "cefa", black_aligned_frame, "rejects", "no_face",
             r"^depth/ir frame \d+: no pixel brighter than the black background$"),
    BadInput("shorter_than_window", "cefa", shorter_than_window, "rejects", "too_short",
             r"^\d frame numbers in every modality \(rgb 5, depth 5, ir 5\): no window of 7$"),
    BadInput("space_in_name", "cefa", space_in_name, "index", "malformed_name", "expected Race_ID"),
    BadInput("non_utf8_name", "cefa", non_utf8_name, "index", "malformed_name", "expected Race_ID"),
    BadInput("truncated_video", "oulu", truncated_video, "counted", "n_frames_rgb", frames_cut=1),
    BadInput("zero_byte_video", "oulu", zero_byte_video, "index", "unreadable_video", "no video frames can be read"),
    BadInput("lying_frame_count", "oulu", lying_frame_count, "counted", "n_frames_rgb"),
    BadInput("malformed_eye_file", "oulu", malformed_eye_file, "samples", "annotation_issue",
             r"\.txt:3: '3, eyes, somewhere'"),
    BadInput("eyes_outside_the_frame", "oulu", eyes_outside_the_frame, "samples", "annotation_issue",
             r"\.txt: eye positions .* outside the \d+×\d+ frame"),
    BadInput("missing_eye_file", "oulu", missing_annotation, "index_note", "missing_annotation",
             r"no \.txt file beside the video"),
    BadInput("malformed_face_file", "siw", malformed_face_file, "samples", "annotation_issue",
             r"\.face:2: '12 34 lots'"),
    BadInput("all_zero_face_boxes", "siw", all_zero_face_boxes, "samples", "annotation_issue",
             r"\.face: no face box for frames"),
    BadInput("face_boxes_outside_the_frame", "siw", face_boxes_outside_the_frame, "samples", "annotation_issue",
             r"\.face: face box centre .* outside"),
    BadInput("missing_face_file", "siw", missing_annotation, "index_note", "missing_annotation",
             r"no \.face file beside the video"),
    BadInput("duplicate_id", "siw", duplicate_id, "index", "duplicate_id", r"already used by .*\.mov"),
    BadInput("name_outside_the_scheme", "replay_attack", name_outside_the_scheme, "index", "malformed_name",
             r"expected attack_\{print,mobile,highdef\}_client001|expected client001_session01"),
    BadInput("malformed_bob_face_file", "replay_attack", malformed_face_file, "samples", "annotation_issue",
             r"\.face:2: '12 34 lots'"),
    BadInput("client_in_neither_sub_list", "msu_mfsd", client_in_neither_sub_list, "index", "unlisted_client",
             r"^client 004 is in neither train_sub_list\.txt nor test_sub_list\.txt"),
    BadInput("malformed_msu_face_file", "msu_mfsd", malformed_face_file, "samples", "annotation_issue",
             r"\.face:2: '12 34 lots'"),
]


def damage_tree(dataset: str, source: Path, target: Path, videos: pd.DataFrame,
                protocols: pd.DataFrame) -> dict[str, str]:
    """Copy ``source`` to ``target`` and damage one in-protocol recording per corpus entry.

    Returns ``{corpus name: victim video_id}``. Victims are picked in a fixed order among recordings
    that some protocol uses, so each bad input is one the shard stage would otherwise have sharded.
    """
    shutil.copytree(source, target)
    rows = videos.set_index("video_id", drop=False)
    members = protocols.assign(is_bonafide=protocols["video_id"].map(rows["is_bonafide"]))
    remaining = members.groupby(["protocol", "split", "is_bonafide"]).size().to_dict()
    entries = [entry for entry in CORPUS if entry.dataset == dataset]
    order = sorted(set(members["video_id"]))
    candidates = order[1::2] + order[0::2]
    victims: dict[str, str] = {}
    # Each entry takes the next unused recording; an entry that the index skips takes only one whose
    # loss leaves each of its protocol splits with both classes, so the index still writes manifests.
    for entry in entries:
        for candidate in candidates:
            groups = [tuple(g) for g in
                      members.loc[members["video_id"] == candidate, ["protocol", "split", "is_bonafide"]].values]
            if entry.where != "index" or all(remaining[g] > 1 for g in groups):
                break
        else:
            break
        candidates.remove(candidate)
        if entry.where == "index":
            for g in groups:
                remaining[g] -= 1
        entry.damage(target, rows.loc[candidate])
        victims[entry.name] = candidate
    if len(victims) < len(entries):
        raise ValueError(f"{source}: too few recordings to damage {len(entries)} without emptying a split")
    return victims


def matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text or "") is not None
