"""Synthesise a small raw PAD dataset in the official on-disk layout (no download needed).

    python -m pipeline.demo --dataset cefa --out data/raw/cefa --size small --seed 0

writes CASIA-SURF CeFA (public or CVPR 2020 challenge release), CASIA-SURF, OULU-NPU or SiW
exactly as the real archives lay them out: the same folder and file names, frame folders of
JPEGs or video containers, and the annotation files (OULU eye positions, SiW face boxes,
challenge list files). The pixels come from ``pipeline.demo_render``: one real photograph,
varied per subject, with the physical cues of each attack (depth relief, IR darkness of screens,
rigid planes versus non-rigid live faces), so the whole pipeline can be trained and tested on it.
CeFA and CASIA-SURF frames are then made the way those releases made theirs
(``pipeline.demo_crops``): face crops cut out per frame and per stream, so sizes vary frame to frame,
depth and IR are at their own scale, and frame numbers go missing from one modality now and then;
CASIA-SURF numbers its frames sparsely (``1.jpg, 11.jpg, …``: one frame in ten was kept).

Every file is a deterministic function of (dataset, size, release, seed): the same arguments
give byte-identical files. Existing files are overwritten; nothing else in ``--out`` is touched.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np

from pipeline.cli import add_verbosity_arguments, configure_logging
from pipeline.demo_crops import ReleaseFrames, release_frames
from pipeline.demo_lists import write_official_lists
from pipeline.demo_render import RenderSpec, render, render_stream, rng_for
from pipeline.demo_video import write_h264

log = logging.getLogger(__name__)

DATASETS = ("cefa", "surf", "oulu", "siw")
RELEASES = ("public", "challenge")
ETHNICITIES = {1: "AF", 2: "CA", 3: "EA"}
CEFA_PAI = {1: "bonafide", 2: "print", 3: "print", 4: "replay"}
# Per subject: real, cloth print indoor, cloth print outdoor, replay (Race_ID_Device_Session_PAI).
CEFA_2D = ((1, 1, 1), (3, 1, 2), (3, 2, 2), (3, 1, 4))
# Mask recordings: (dresses, glasses, device, session, lighting), as found in the official lists.
CEFA_MASK_RECS = ((1, 0, 2, 1, 2), (1, 1, 2, 2, 3), (0, 0, 2, 1, 4))
SURF_ATTACKS = {"Training": ("04_en_b", "05_enm_s", "06_enm_b"),
                "Val": ("01_e_s", "02_e_b", "03_en_s"), "Testing": ("01_e_s", "02_e_b", "03_en_s")}
OULU_FILES = {1: ("bonafide", 0), 2: ("print", 1), 3: ("print", 2),  # file: (attack, variant)
              4: ("replay", 1), 5: ("replay", 2)}
SIW_TYPES = {1: "bonafide", 2: "print", 3: "replay"}

# Subject ids per split, chosen inside the official ranges; sizes take the first n.
CEFA_IDS = {"train": [5, 45, 85, 125, 165], "dev": [210, 230, 250], "test": [320, 365, 410, 455]}
CEFA_MASK_IDS = {1: [73, 12, 45], 2: [6, 3]}  # mask type 1 = 3D print, 2 = silicone
SURF_IDS = {"Training": [5, 11, 19, 30], "Val": [10, 21], "Testing": [2, 4, 12]}
OULU_USERS = {"Train_files": [1, 2, 3], "Dev_files": [21, 22, 23], "Test_files": [36, 37, 38]}
SIW_IDS = {"Train": [3, 7, 11], "Test": [18, 22, 26]}

# What each size holds. tiny: a few seconds, every protocol split still has bona fide and attacks.
# px of CeFA / CASIA-SURF is the side of the rendered RGB view the release crops are cut from (the
# face is 0.8 of it); depth and IR are about half that (pipeline.demo_crops).
SIZES = {
    "tiny": {
        "cefa": {"subjects": {"train": 1, "dev": 1, "test": 1}, "masks": {1: (1, 1), 2: (1, 1)},
                 "frames": 10, "px": 72},
        "surf": {"subjects": {"Training": 1, "Val": 1, "Testing": 1}, "frames": 10, "px": 72},
        "oulu": {"users": 1, "frames": 8, "px": (160, 120)},
        "siw": {"subjects": 1, "live": 2, "frames": 10, "px": (160, 120)},
    },
    "small": {
        "cefa": {"subjects": {"train": 5, "dev": 3, "test": 4}, "masks": {1: (3, 2), 2: (2, 1)},
                 "frames": 24, "px": 128},
        "surf": {"subjects": {"Training": 4, "Val": 2, "Testing": 3}, "frames": 16, "px": 128},
        "oulu": {"users": 2, "frames": 20, "px": (320, 240)},
        "siw": {"subjects": 3, "live": 3, "frames": 72, "px": (320, 240)},
    },
    # Real resolutions and lengths, to measure what decoding real data costs: tiny's recordings (every
    # protocol split covered), CeFA 100 frames a recording, OULU-NPU and SiW Full-HD long-GOP H.264.
    "full": {
        "cefa": {"subjects": {"train": 1, "dev": 1, "test": 1}, "masks": {1: (1, 1), 2: (1, 1)},
                 "frames": 100, "px": 320},
        "surf": {"subjects": {"Training": 1, "Val": 1, "Testing": 1}, "frames": 30, "px": 320},
        "oulu": {"users": 1, "frames": 150, "px": (1920, 1080), "codec": "h264"},
        "siw": {"subjects": 1, "live": 2, "frames": 300, "px": (1920, 1080), "codec": "h264"},
    },
}
CEFA_FOLDERS = {"rgb": "color", "depth": "depth", "ir": "ir"}
CHALLENGE_FOLDERS = {"rgb": "profile", "depth": "depth", "ir": "ir"}
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


@dataclass(frozen=True)
class _Plan:
    """A recording to write: its metadata, how to render it and how to store it."""

    video_id: str
    rel_path: str
    subject: str
    attack_type: str
    attributes: dict
    spec: RenderSpec
    folders: dict | None = None  # modality -> frame folder name (frame-folder datasets)
    fourcc: str = ""  # video datasets: OpenCV's container codec, or "h264" (long-GOP, B-frames, via ffmpeg)
    annotation: str = ""  # "", "eyes" (OULU .txt) or "boxes" (SiW .face)
    gaps: tuple[int, ...] = field(default=())  # SiW frames whose .face line reads 0 0 0 0
    sparse: bool = False  # frame folders numbered 1, 11, 21, … unpadded (CASIA-SURF), else 0001, 0002, …


# ---------------------------------------------------------------- CeFA
def _cefa_subjects(cfg: dict) -> list[tuple[str, str, int]]:
    """(split, ethnicity, id) for every 2D subject, all three ethnicities."""
    return [(split, eth, sid) for eth in ETHNICITIES.values()
            for split, n in cfg["subjects"].items() for sid in CEFA_IDS[split][:n]]


def _cefa_2d_plan(cfg: dict, eth: str, sid: int, code: tuple[int, int, int], rel: str,
                  folders: dict = CEFA_FOLDERS) -> _Plan:
    race = {v: k for k, v in ETHNICITIES.items()}[eth]
    device, session, pai = code
    name = f"{race}_{sid:03d}_{device}_{session}_{pai}"
    attack = CEFA_PAI[pai]
    spec = RenderSpec(name, f"{eth}-{sid:03d}", attack, cfg["frames"], cfg["px"], cfg["px"],
                      variant=session if attack == "print" else 0, place=session, tone=eth)
    attrs = {"ethnicity": eth, "subject_id": sid, "device": device, "session": session, "pai": pai}
    return _Plan(name, rel.format(eth=eth, sid=sid, name=name), f"{eth}-{sid:03d}", attack, attrs,
                 spec, folders)


def _cefa_mask_plans(cfg: dict) -> list[_Plan]:
    plans = []
    for mtype, (n_subjects, n_recs) in cfg["masks"].items():
        attack, folder = ("mask3d", "3D-Mask") if mtype == 1 else ("silicone", "Silicone-Mask")
        for sid in CEFA_MASK_IDS[mtype][:n_subjects]:
            for dresses, glasses, device, session, lighting in CEFA_MASK_RECS[:n_recs]:
                name = f"{mtype}_{sid:03d}_{dresses}_{glasses}_{device}_{session}_{lighting}"
                subject = f"{attack}-{sid:03d}"
                spec = RenderSpec(name, subject, attack, cfg["frames"], cfg["px"], cfg["px"],
                                  place=10 + lighting)
                attrs = {"mask_type": mtype, "subject_id": sid, "dresses": dresses,
                         "glasses": glasses, "device": device, "session": session,
                         "lighting": lighting}
                plans.append(_Plan(name, f"CASIA_CeFA/Mask/{folder}/{sid:03d}/{name}", subject,
                                   attack, attrs, spec, CEFA_FOLDERS))
    return plans


def _cefa_public(cfg: dict, seed: int) -> list[_Plan]:
    rel = "CASIA_CeFA/Ethnicity/{eth}/{eth}-{sid:03d}/{name}"
    plans = [_cefa_2d_plan(cfg, eth, sid, code, rel)
             for _, eth, sid in _cefa_subjects(cfg) for code in CEFA_2D]
    return plans + _cefa_mask_plans(cfg)


def _cefa_challenge(cfg: dict, seed: int) -> list[_Plan]:
    """Protocol 4 release: train by name; dev and test anonymised in a seeded random order."""
    codes = {"train": CEFA_2D[::3], "dev": CEFA_2D[::3], "test": CEFA_2D[:3]}  # 4@k's attacks
    plans, hidden = [], {"dev": [], "test": []}
    for split, eth, sid in _cefa_subjects(cfg):
        for code in codes[split]:
            if split == "train":
                plans.append(_cefa_2d_plan(cfg, eth, sid, code, "train/{name}", CHALLENGE_FOLDERS))
            else:
                hidden[split].append(_cefa_2d_plan(cfg, eth, sid, code, ""))
    for split, first in (("dev", 3000), ("test", 1)):
        order = rng_for(seed, "anonymise", split).permutation(len(hidden[split]))
        for number, index in enumerate(order, start=first):
            plan = hidden[split][index]
            anon = f"{number:06d}"
            attrs = {"split": split, "anon_id": anon, "ethnicity": plan.attributes["ethnicity"],
                     "true_video_id": plan.video_id}
            plans.append(_Plan(f"{split}-{anon}", f"{split}/{anon}", f"{split}-{anon}",
                               plan.attack_type, attrs, plan.spec, CHALLENGE_FOLDERS))
    return plans


# ---------------------------------------------------------------- CASIA-SURF
def _surf(cfg: dict, seed: int) -> list[_Plan]:
    plans = []
    for split, n in cfg["subjects"].items():
        for sid in SURF_IDS[split][:n]:
            subject = f"CLKJ_AS{sid:04d}"
            for code in ("real", *SURF_ATTACKS[split]):
                part = "real_part" if code == "real" else "fake_part"
                cut, shape = code.split("_")[1:] if code != "real" else ("", "")
                attack = "bonafide" if code == "real" else "cut_print"
                spec = RenderSpec(f"{subject}-{code}", subject, attack, cfg["frames"], cfg["px"],
                                  cfg["px"], holes=cut, bent=shape == "b")
                attrs = {"split": split, "subject_id": sid, "code": code, "cut": cut,
                         "shape": shape}
                rel = f"CASIA_SURF/Data/{split}/{part}/{subject}/{code}.rssdk"
                plans.append(_Plan(f"{subject}-{code}", rel, subject, attack, attrs, spec,
                                   CEFA_FOLDERS, sparse=True))
    return plans


# ---------------------------------------------------------------- OULU-NPU
def _oulu(cfg: dict, seed: int) -> list[_Plan]:
    plans = []
    width, height = cfg["px"]
    for folder, users in OULU_USERS.items():
        for user in users[:cfg["users"]]:
            for phone in range(1, 7):
                for session in range(1, 4):
                    for file, (attack, variant) in OULU_FILES.items():
                        name = f"{phone}_{session}_{user:02d}_{file}"
                        spec = RenderSpec(name, f"oulu-{user:02d}", attack, cfg["frames"], width,
                                          height, scene=True, variant=variant, place=session,
                                          camera=phone)
                        attrs = {"phone": phone, "session": session, "user": user, "file": file}
                        plans.append(_Plan(name, f"OULU_NPU/{folder}/{name}.avi", f"{user:02d}",
                                           attack, attrs, spec, fourcc=cfg.get("codec", "MJPG"),
                                           annotation="eyes"))
    return plans


# ---------------------------------------------------------------- SiW
def _siw_codes(n_live: int) -> list[tuple[int, int, int, int]]:
    """(sensor, type, medium, session): live takes, print media 1-2, replay media 1-4."""
    live = [(1, 1, 1, 1), (2, 1, 2, 2), (1, 1, 2, 1)][:n_live]
    prints = [(1, 2, 1, 1), (2, 2, 2, 2)]
    replays = [(1 + m % 2, 3, m + 1, 1 + m // 2) for m in range(4)]
    return live + prints + replays


def _siw(cfg: dict, seed: int) -> list[_Plan]:
    plans = []
    width, height = cfg["px"]
    for split, ids in SIW_IDS.items():
        for sid in ids[:cfg["subjects"]]:
            for index, (sensor, kind, medium, session) in enumerate(_siw_codes(cfg["live"])):
                stem = f"{sid:03d}-{sensor}-{kind}-{medium}-{session}"
                attack = SIW_TYPES[kind]
                spec = RenderSpec(stem, f"siw-{sid:03d}", attack, cfg["frames"], width, height,
                                  scene=True, variant=medium, place=20 + session,
                                  camera=10 + sensor)  # SiW's rooms and cameras, not OULU's
                attrs = {"split": split, "subject": sid, "sensor": sensor, "type": kind,
                         "medium": medium, "session": session}
                rel = f"SiW/{split}/{'live' if kind == 1 else 'spoof'}/{sid:03d}/{stem}.mov"
                plans.append(_Plan(stem, rel, f"{sid:03d}", attack, attrs, spec, fourcc=cfg.get("codec", "mp4v"),
                                   annotation="boxes", gaps=_siw_gaps(seed, stem, index, cfg)))
    return plans


def _siw_gaps(seed: int, stem: str, index: int, cfg: dict) -> tuple[int, ...]:
    """Frames where the released face detector found nothing: some videos, a few frames each."""
    rng = rng_for(seed, "siw-gaps", stem)
    if index != 0 and rng.random() > 0.2:  # every subject's first video has gaps
        return ()
    return tuple(sorted(int(f) for f in rng.choice(cfg["frames"], size=int(rng.integers(1, 4)),
                                                   replace=False)))


PLANNERS = {("cefa", "public"): _cefa_public, ("cefa", "challenge"): _cefa_challenge,
            ("surf", "public"): _surf, ("oulu", "public"): _oulu, ("siw", "public"): _siw}


# ---------------------------------------------------------------- writing
def _bgr(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img


def frame_numbers(plan: _Plan) -> list[int]:
    """Frame number of each rendered frame: 1, 2, … or, one frame in ten kept, 1, 11, 21, …"""
    step = 10 if plan.sparse else 1
    return [1 + step * t for t in range(plan.spec.n_frames)]


def frame_name(plan: _Plan, number: int) -> str:
    return f"{number}.jpg" if plan.sparse else f"{number:04d}.jpg"


def _write_frames(made: ReleaseFrames, plan: _Plan, out: Path) -> dict[str, tuple[int, ...]]:
    """One folder of numbered JPEGs per modality; numbered frames of older runs that this one lacks go."""
    written = {}
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


def _write_video(frames: Iterator[dict[str, np.ndarray]], plan: _Plan, out: Path) -> dict[str, tuple[int, ...]]:
    """The RGB frames as the plan's container; frames are encoded as they are rendered."""
    path = out / plan.rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = (frame["rgb"] for frame in frames)
    if plan.fourcc == "h264":
        return {"rgb": tuple(range(write_h264(rgb, path)))}
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*plan.fourcc), 30.0, (plan.spec.width, plan.spec.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {plan.fourcc} video {path}")
    count = 0
    for img in rgb:
        writer.write(_bgr(img))
        count += 1
    writer.release()
    return {"rgb": tuple(range(count))}


def _write_annotation(plan: _Plan, out: Path, boxes: np.ndarray, eyes: np.ndarray) -> None:
    """OULU .txt: 'frame,x_right_eye,y_right_eye,x_left_eye,y_left_eye' per frame;
    SiW .face: 'x1 y1 x2 y2' per frame, '0 0 0 0' where the detector found no face."""
    video = out / plan.rel_path
    if plan.annotation == "eyes":
        lines = [",".join(map(str, (i, *map(int, row)))) for i, row in enumerate(eyes)]
        video.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    elif plan.annotation == "boxes":
        lines = ["0 0 0 0" if i in plan.gaps else " ".join(map(str, map(int, row)))
                 for i, row in enumerate(boxes)]
        video.with_suffix(".face").write_text("\n".join(lines) + "\n")


def _write(plan: _Plan, out: Path, seed: int, dataset: str) -> DemoRecording:
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
                 for r in split["train"] for number in _frames_of_every_modality(r)]
        files = {"train": train,
                 "dev_res": [r.rel_path for r in split["dev"]],
                 "dev_ref": [f"{r.rel_path} {label(r)}" for r in split["dev"]],
                 "test_res": [r.rel_path for r in split["test"]],
                 "test_ref": [f"{r.rel_path} {label(r)}" for r in split["test"]]}
        for name, lines in files.items():
            (out / f"4@{k}_{name}.txt").write_text("\n".join(lines) + "\n")


def _frames_of_every_modality(rec: DemoRecording) -> list[int]:
    return sorted(set.intersection(*(set(numbers) for numbers in rec.frame_numbers.values())))


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


def _write_all(plans: list[_Plan], out: Path, seed: int, dataset: str,
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
    records = _write_all(plans, out, seed, dataset, workers)
    if release == "challenge":
        _write_challenge_lists(records, out)
    else:  # the official protocol lists, in each dataset's own format, for `index --lists`
        write_official_lists(dataset, out, out / "lists")
    _write_info(records, out, dataset=dataset, release=release, size=size, seed=seed)
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.demo",
        description="Synthesise a small raw PAD dataset in its official on-disk layout, so the "
                    "pipeline (index, shard, train, evaluate) runs with no download. Same "
                    "arguments, same bytes.",
        epilog="Layouts: cefa -> OUT/CASIA_CeFA/{Ethnicity,Mask}/... (public) or OUT/{train,dev,"
               "test}/ + 4@k_*.txt (challenge); surf -> OUT/CASIA_SURF/Data/...; "
               "oulu -> OUT/OULU_NPU/{Train,Dev,Test}_files/*.avi + .txt; "
               "siw -> OUT/SiW/{Train,Test}/{live,spoof}/NNN/*.mov + .face. "
               "Public releases also get OUT/lists/ with the official protocol lists.")
    parser.add_argument("--dataset", required=True, choices=DATASETS,
                        help="which dataset to imitate")
    parser.add_argument("--out", required=True, type=Path,
                        help="raw root to write (the directory the index stage scans); created "
                             "if missing, existing files overwritten")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed: identities, motion, textures (default: 0)")
    parser.add_argument("--size", choices=tuple(SIZES), default="small",
                        help="tiny: seconds, for tests; small: enough to train SD-Net (default); full: real "
                             "resolutions and lengths (OULU-NPU and SiW 1920x1080 long-GOP H.264 with "
                             "B-frames; minutes to write), to measure real decoding costs")
    parser.add_argument("--release", choices=RELEASES, default="public",
                        help="cefa only: the later public release (default) or the CVPR 2020 "
                             "challenge release (Protocol 4, anonymised dev/test, list files)")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes to render with (default: 1 for tiny, else up to 2); "
                             "the output does not depend on it")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = 1 if args.size == "tiny" else min(2, os.cpu_count() or 1)
    configure_logging(args)
    start = time.perf_counter()
    try:
        records = generate(args.dataset, args.out, seed=args.seed, size=args.size,
                           release=args.release, workers=args.workers)
    except ValueError as err:
        parser.error(str(err))
    log.info("wrote %d %s recordings (%s, %s release, seed %d) to %s in %.1f s", len(records),
             args.dataset, args.size, args.release, args.seed, args.out,
             time.perf_counter() - start)


if __name__ == "__main__":
    main()
