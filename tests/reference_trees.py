"""Build raw trees that hold exactly the recordings named by the official reference lists.

Pixels do not matter to the index stage, so every frame (and every video) is a hard link to one
tiny file: a tree of thousands of recordings costs a second.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

REFERENCE = Path(__file__).parent / "data" / "reference" / "protocols"


def link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.link(source, target)


def tiny_jpeg(folder: Path) -> Path:
    path = folder / "frame.jpg"
    cv2.imwrite(str(path), np.full((8, 8, 3), 128, np.uint8))
    return path


def tiny_video(folder: Path, suffix: str, fourcc: str) -> Path:
    path = folder / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30, (16, 16))
    for value in (0, 255):
        writer.write(np.full((16, 16, 3), value, np.uint8))
    writer.release()
    return path


def list_lines(folder: str, pattern: str = "*", base: Path = REFERENCE) -> list[tuple[Path, list[str]]]:
    """(list file, tokens) for every non-empty line of the lists in ``base/folder`` matching ``pattern``."""
    lines = []
    for path in sorted((base / folder).rglob(pattern)):
        if path.is_file():
            lines += [(path, line.split()) for line in path.read_text().splitlines() if line.strip()]
    return lines


def build_frame_folder_tree(dataset_folder: str, root: Path, scratch: Path, base: Path = REFERENCE) -> None:
    """CeFA / CASIA-SURF: each listed ``…/color`` folder gets color, depth and ir with one frame."""
    frame = tiny_jpeg(scratch)
    for _, tokens in list_lines(dataset_folder, base=base):
        recording = root / Path(tokens[0]).parent
        for modality in ("color", "depth", "ir"):
            link(frame, recording / modality / "0001.jpg")


def build_oulu_tree(root: Path, scratch: Path) -> None:
    """OULU-NPU: ``OULU_NPU/Train_files/1_1_01_1.avi`` (+ .txt) for every video of every list."""
    video = tiny_video(scratch, ".avi", "MJPG")
    eyes = scratch / "eyes.txt"
    eyes.write_text("0, 5, 5, 10, 5\n1, 5, 5, 10, 5\n")
    for _, tokens in list_lines("oulu"):
        name = Path(tokens[0].split(",")[-1])
        rel = Path(*name.parts[-2:])  # Train_files/1_1_01_1 (CFD lines start with OULU_NPU/)
        link(video, root / "OULU_NPU" / rel.with_suffix(".avi"))
        link(eyes, root / "OULU_NPU" / rel.with_suffix(".txt"))


def build_siw_tree(root: Path, scratch: Path) -> None:
    """SiW: ``SiW/Train/live/150/150-1-1-2-2.mov`` (+ .face) for every listed video."""
    video = tiny_video(scratch, ".mov", "mp4v")
    boxes = scratch / "boxes.face"
    boxes.write_text("2 2 12 12\n2 2 12 12\n")
    for _, tokens in list_lines("siw"):
        rel = Path(tokens[0])
        link(video, root / rel.with_suffix(".mov"))
        link(boxes, root / rel.with_suffix(".face"))


def fas_dataset_lines(dataset: str) -> list[tuple[str, Path, str]]:
    """(split, path inside the release, label) of every line of a dataset's CASIA-FAS-Dataset lists
    ``video_{train,dev,test}.txt`` (``ReplayAttack/train/real/client… 0``: the list's dataset folder dropped)."""
    lines = []
    for split in ("train", "dev", "test"):
        for _, (rel, label) in list_lines(dataset, f"video_{split}.txt"):
            lines.append((split, Path(*Path(rel).parts[1:]), label))
    return lines


def build_casia_fasd_tree(root: Path, scratch: Path) -> None:
    """CASIA-FASD: ``CASIA_faceAntisp/train_release/8/HR_1.avi`` for every listed video (no annotations: the
    release has none)."""
    video = tiny_video(scratch, ".avi", "MJPG")
    for _, inside, _ in fas_dataset_lines("casia_fasd"):
        link(video, root / "CASIA_faceAntisp" / inside.with_suffix(".avi"))


def build_replay_attack_tree(root: Path, scratch: Path) -> None:
    """Replay-Attack: every listed video (+ its face-locations file) and, as the release has them, the two
    enrollment videos of every client under ``enroll/``."""
    video = tiny_video(scratch, ".mov", "jpeg")
    boxes = scratch / "boxes.face"
    boxes.write_text("0 2 2 10 10\n1 2 2 10 10\n")
    base = root / "replayattack"
    clients = set()
    for _, inside, _ in fas_dataset_lines("replay_attack"):
        link(video, base / inside.with_suffix(".mov"))
        link(boxes, base / "face-locations" / inside.with_suffix(".face"))
        clients.add(inside.name.split("client")[1][:3])
    for client in clients:
        for light in ("controlled", "adverse"):
            link(video, base / "enroll" / f"client{client}_session01_webcam_enroll_{light}.mov")


def build_msu_mfsd_tree(root: Path, scratch: Path) -> None:
    """MSU-MFSD: ``MSU-MFSD/scene01/real/real_client002_laptop_SD_scene01.mov`` (Android: ``.mp4``) for every
    listed video, and the release's two sub lists at the top."""
    videos = {".mp4": tiny_video(scratch, ".mp4", "mp4v"), ".mov": tiny_video(scratch, ".mov", "mp4v")}
    base = root / "MSU-MFSD"
    for name in ("train_sub_list.txt", "test_sub_list.txt"):
        link(REFERENCE / "msu_mfsd" / "bob" / name, base / name)
    for _, inside, _ in fas_dataset_lines("msu_mfsd"):
        suffix = ".mp4" if "_android_" in inside.name else ".mov"
        link(videos[suffix], base / "scene01" / inside.with_suffix(suffix))
