"""Writing a demo dataset: every planned recording rendered and stored as its release stores it.

:func:`generate` writes CASIA-SURF CeFA (public or CVPR 2020 challenge release), CASIA-SURF, OULU-NPU,
SiW, CASIA-FASD, Replay-Attack or MSU-MFSD exactly as the real archives lay them out: the same folder and
file names, frame folders of JPEGs or video containers (MJPEG .avi/.mov, H.264 .mp4/.mov, at each release's
resolutions and frame rates, MSU-MFSD's upside-down phone videos with their display rotation), and the
annotation files (OULU eye positions, SiW, Replay-Attack and MSU-MFSD face boxes, bob's CASIA-FASD boxes
beside the release, challenge list files, MSU-MFSD's sub lists). The pixels come from :mod:`.render`, with
the physical cues of each attack (depth relief, IR darkness of screens, rigid planes versus non-rigid live
faces), so the whole pipeline can be trained and tested on it. CeFA and CASIA-SURF frames are then made the
way those releases made theirs (:mod:`.crops`): face crops cut out per frame and per stream, so sizes vary
frame to frame, depth and IR are at their own scale, and frame numbers go missing from one modality now and
then; CASIA-SURF numbers its frames sparsely (``1.jpg, 11.jpg, …``: one frame in ten was kept).

Every file is a deterministic function of (dataset, size, release, seed): the same arguments give
byte-identical files. Existing files are overwritten; nothing else in ``--out`` is touched.
"""
from __future__ import annotations

import json
import logging
import math
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np

from .crops import ReleaseFrames, release_frames
from .layouts import CHALLENGE_FOLDERS, ETHNICITIES, MSU_SUB_LISTS, PLANNERS, RELEASES, SIZES, Plan
from .lists import write_official_lists
from .render import render, render_stream, rng_for
from .video import write_h264
from ..datasets import DATASETS
from ..datasets.records import paired_frame_numbers

log = logging.getLogger(__name__)

# Full-resolution chroma: 4:2:0 would smear colour ringing 16 px into the black around the head.
JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 92,
               cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]


@dataclass(frozen=True, eq=False)
class DemoRecording:
    """One recording the generator wrote, with the ground truth the pipeline should recover."""

    video_id: str
    rel_path: str  # recording folder or video file, relative to the output root (posix)
    subject: str
    is_bonafide: bool
    attack_type: str  # bonafide, print, replay, mask3d, silicone, cut_print
    attributes: dict  # the dataset's naming-scheme fields
    frame_numbers: dict  # modality ('rgb', 'depth', 'ir') -> frame numbers written (videos: 0 … n - 1)
    # (rendered frames, 4) int x1, y1, x2, y2 in the rendered view: a video's frames; for CeFA and
    # CASIA-SURF the view the per-frame crops were cut from (``boxes`` has each crop's own)
    face_boxes: np.ndarray
    # (n_frames, 4) int x_right_eye, y_right_eye, x_left_eye, y_left_eye (right = image left)
    eyes: np.ndarray | None = None
    dataset: str = ""
    boxes: dict | None = None  # frame folders: modality -> frame number -> face box in that frame

    @property
    def n_frames(self) -> dict[str, int]:
        return {modality: len(numbers) for modality, numbers in self.frame_numbers.items()}


# ---------------------------------------------------------------- writing
def _bgr(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img


def frame_numbers(plan: Plan) -> list[int]:
    """Frame number of each rendered frame: 1, 2, … or, one frame in ten kept, 1, 11, 21, …"""
    step = 10 if plan.sparse else 1
    return [1 + step * t for t in range(plan.spec.n_frames)]


def frame_name(plan: Plan, number: int) -> str:
    return f"{number}.jpg" if plan.sparse else f"{number:04d}.jpg"


def _write_frames(made: ReleaseFrames, plan: Plan, out: Path) -> dict[str, tuple[int, ...]]:
    """One folder of numbered JPEGs per modality; numbered frames of older runs that this one lacks go."""
    written = {}
    assert plan.folders is not None, "a frame-folder release"
    for modality, folder in plan.folders.items():
        target = out / plan.rel_path / folder
        target.mkdir(parents=True, exist_ok=True)
        frames = made.frames[modality]
        names = {frame_name(plan, number) for number in frames}
        for stale in target.glob("*.jpg"):
            if stale.stem.isdigit() and stale.name not in names:
                stale.unlink()
        for number, img in frames.items():
            path = target / frame_name(plan, number)
            if not cv2.imwrite(str(path), _bgr(img), JPEG_PARAMS):
                raise OSError(f"could not write {path}")
        written[modality] = tuple(frames)
    return written


def _write_video(frames: Iterator[dict[str, np.ndarray]], plan: Plan, out: Path) -> dict[str, tuple[int, ...]]:
    """The RGB frames as the plan's container; frames are encoded as they are rendered."""
    path = out / plan.rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = (frame["rgb"] for frame in frames)
    if plan.fourcc == "h264":
        stored = (np.rot90(img, plan.rotation // 90) for img in rgb)  # turned back by the player
        return {"rgb": tuple(range(write_h264(stored, path, plan.fps, rotation=plan.rotation)))}
    if plan.rotation:
        raise ValueError(f"{path}: a display rotation needs the h264 writer")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*plan.fourcc), plan.fps,
                             (plan.spec.width, plan.spec.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {plan.fourcc} video {path}")
    count = 0
    for img in rgb:
        writer.write(_bgr(img))
        count += 1
    writer.release()
    return {"rgb": tuple(range(count))}


def _annotation_lines(plan: Plan, boxes: np.ndarray, eyes: np.ndarray) -> list[str]:
    """The plan's annotation file, line by line, in its release's format (see ``Plan.annotation``):
    OULU 'frame,x_right_eye,y_right_eye,x_left_eye,y_left_eye'; SiW 'x1 y1 x2 y2', '0 0 0 0' for no face;
    bob 'frame x y w h'; MSU-MFSD 'frame, x1, y1, x2, y2, left eye x, y, right eye x, y'."""
    if plan.annotation == "eyes":
        return [",".join(map(str, (i, *map(int, row)))) for i, row in enumerate(eyes)]
    if plan.annotation == "boxes":
        return ["0 0 0 0" if i in plan.gaps else " ".join(map(str, map(int, row))) for i, row in enumerate(boxes)]
    if plan.annotation in ("bob", "bob_sparse"):
        lines = [f"{i} 0 0 0 0" if i in plan.gaps else f"{i} {x1} {y1} {x2 - x1} {y2 - y1}"
                 for i, (x1, y1, x2, y2) in enumerate(boxes.tolist())]
        return [line for i, line in enumerate(lines) if plan.annotation == "bob" or i not in plan.gaps]
    # MSU-MFSD: made on the stored pixels, so a video stored upside down has its boxes and eyes turned too
    turned = [_stored_points(plan, [(x1, y1), (x2, y2), (lx, ly), (rx, ry)])
              for (x1, y1, x2, y2), (rx, ry, lx, ly) in zip(boxes.tolist(), eyes.tolist())]
    return [", ".join(map(str, (i, min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]), *left, *right)))
            for i, (a, b, left, right) in enumerate(turned) if i not in plan.gaps]


def _stored_points(plan: Plan, points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Points of the upright view where they are in the stored frame (turned by 180°, or as they are)."""
    if plan.rotation == 0:
        return points
    if plan.rotation != 180:
        raise ValueError(f"{plan.rel_path}: only upside-down (180°) videos are written")
    return [(plan.spec.width - x, plan.spec.height - y) for x, y in points]


def _write_annotation(plan: Plan, out: Path, boxes: np.ndarray, eyes: np.ndarray) -> None:
    """The annotation file beside the video (OULU .txt, SiW and MSU-MFSD .face) or at ``annotation_path``."""
    if not plan.annotation:
        return
    video = out / plan.rel_path
    path = out / plan.annotation_path if plan.annotation_path else video.with_suffix(
        ".txt" if plan.annotation == "eyes" else ".face")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(_annotation_lines(plan, boxes, eyes)) + "\n")


def _write(plan: Plan, out: Path, seed: int, dataset: str) -> DemoRecording:
    boxes = None
    if plan.folders:
        shot = render(plan.spec, seed)
        made = release_frames(shot, rng_for(seed, "release", plan.video_id), frame_numbers(plan))
        numbers, boxes = _write_frames(made, plan, out), made.boxes
        face_boxes, eyes = shot.face_boxes, shot.eyes
    else:
        stream, face_boxes, eyes = render_stream(plan.spec, seed)
        numbers = _write_video(stream, plan, out)
    _write_annotation(plan, out, face_boxes, eyes)
    return DemoRecording(plan.video_id, plan.rel_path, plan.subject, plan.attack_type == "bonafide",
                         plan.attack_type, dict(plan.attributes), numbers, face_boxes, eyes, dataset, boxes)


def _write_challenge_lists(records: list[DemoRecording], out: Path) -> None:
    """4@k lists (k = 1 AF, 2 CA, 3 EA): train one line per frame, dev/test one per recording."""
    def label(rec: DemoRecording) -> int:
        return 1 if rec.is_bonafide else 0  # the challenge lists use 1 = bona fide

    for k, eth in ETHNICITIES.items():
        split = {name: [r for r in records if r.rel_path.startswith(name + "/")
                        and (r.attributes["ethnicity"] == eth) == (name != "test")]
                 for name in ("train", "dev", "test")}
        train = [" ".join(f"{r.rel_path}/{folder}/{number:04d}.jpg" for folder in
                          CHALLENGE_FOLDERS.values()) + f" {label(r)}"
                 for r in split["train"] for number in paired_frame_numbers(r.frame_numbers)]
        files = {"train": train,
                 "dev_res": [r.rel_path for r in split["dev"]],
                 "dev_ref": [f"{r.rel_path} {label(r)}" for r in split["dev"]],
                 "test_res": [r.rel_path for r in split["test"]],
                 "test_ref": [f"{r.rel_path} {label(r)}" for r in split["test"]]}
        for name, lines in files.items():
            (out / f"4@{k}_{name}.txt").write_text("\n".join(lines) + "\n")


def _write_sub_lists(top: Path) -> None:
    """MSU-MFSD's split, the release's whole lists as it ships them (two-digit clients, CRLF lines)."""
    for split, clients in MSU_SUB_LISTS.items():
        (top / f"{split}_sub_list.txt").write_bytes("\r\n".join(f"{c:02d}" for c in clients).encode())


def _write_info(records: list[DemoRecording], out: Path, **params: object) -> Path:
    """Say beside the data what produced it (no timestamps: the output stays reproducible)."""
    counts: dict[str, int] = {}
    for rec in records:
        counts[rec.attack_type] = counts.get(rec.attack_type, 0) + 1
    suffix = "-challenge" if params["release"] == "challenge" else ""
    path = out / f"demo-{params['dataset']}{suffix}.json"
    info = {"generator": "pipeline.demo", **params, "recordings": len(records),
            "recordings_by_attack_type": counts}
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return path


def _write_all(plans: list[Plan], out: Path, seed: int, dataset: str,
               workers: int) -> list[DemoRecording]:
    """Render and write every plan; with workers > 1 in spawned processes (same bytes either way:
    each recording depends only on its plan and the seed)."""
    if workers <= 1 or len(plans) < 8:
        return [_write(plan, out, seed, dataset) for plan in plans]
    chunk = math.ceil(len(plans) / (4 * workers))  # neighbours share a subject: keep them together
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=cv2.setNumThreads,
                             initargs=(1,)) as pool:
        return list(pool.map(_write, plans, repeat(out), repeat(seed), repeat(dataset),
                             chunksize=chunk))


def generate(dataset: str, out: Path, *, seed: int = 0, size: str = "small",
             release: str = "public", workers: int = 1) -> list[DemoRecording]:
    """Write a demo raw dataset under ``out`` and return what was written, sorted by path.

    ``workers`` > 1 renders in that many spawned processes; the output is identical for any number.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset {dataset!r}: expected one of {DATASETS}")
    if size not in SIZES:
        raise ValueError(f"size {size!r}: expected one of {tuple(SIZES)}")
    if (dataset, release) not in PLANNERS:
        raise ValueError(f"release {release!r} for {dataset}: only cefa has the 'challenge' "
                         f"release; expected one of {RELEASES}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plans = sorted(PLANNERS[dataset, release](SIZES[size][dataset], seed), key=lambda p: p.rel_path)
    written = _write_all(plans, out, seed, dataset, workers)
    records = [record for plan, record in zip(plans, written) if plan.pad]  # not the enrollment videos
    if dataset == "msu_mfsd":
        _write_sub_lists(out / "MSU-MFSD")
    if release == "challenge":
        _write_challenge_lists(records, out)
    else:  # the official protocol lists, in each dataset's own format, for `index --lists`
        write_official_lists(dataset, out, out / "lists")
    _write_info(records, out, dataset=dataset, release=release, size=size, seed=seed)
    return records

