"""pipeline.demo: official layouts, determinism, detectable faces, physical cues, motion, CLI.

Everything runs on ``size="tiny"``; each dataset is generated once per module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline import demo
from pipeline.demo import layouts
from pipeline.demo.cli import main as demo_main
from pipeline.demo.render import RenderSpec, render
from pipeline.faces import BLACK_LEVEL

from .videos import frame_types

REPO = Path(__file__).resolve().parents[1]
HAAR_FACE = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
HAAR_EYE = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_eye.xml")


@pytest.fixture(scope="module")
def built(demo_root, tmp_path_factory):
    """generate(dataset, release) once: (out_dir, records); public trees are conftest's."""
    cache: dict = {}

    def get(dataset: str, release: str = "public"):
        if release == "public":
            return demo_root(dataset)
        if (dataset, release) not in cache:
            out = tmp_path_factory.mktemp(f"{dataset}-{release}")
            cache[dataset, release] = out, demo.generate(dataset, out, size="tiny", release=release)
        return cache[dataset, release]

    return get


# ---------------------------------------------------------------- helpers
def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def read_frames(folder: Path, flags: int = cv2.IMREAD_UNCHANGED) -> dict[int, np.ndarray]:
    """Frame number → image of a frame folder (``0001.jpg`` and CASIA-SURF's ``11.jpg`` alike)."""
    return {int(p.stem): cv2.imread(str(p), flags) for p in sorted(folder.glob("*.jpg"), key=lambda p: int(p.stem))}


def on_one_canvas(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Frames of different sizes, each in the top left corner of one black canvas of the largest size."""
    height, width = max(f.shape[0] for f in frames), max(f.shape[1] for f in frames)
    return [cv2.copyMakeBorder(f, 0, height - f.shape[0], 0, width - f.shape[1], cv2.BORDER_CONSTANT) for f in frames]


def read_video(path: Path) -> list[np.ndarray]:
    import decord

    return list(decord.VideoReader(str(path)).get_batch(
        list(range(len(decord.VideoReader(str(path)))))).asnumpy())


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def haar_hits(frames: list[np.ndarray], boxes: np.ndarray, rgb: bool) -> int:
    """Frames where the Haar face detector finds a face overlapping the recorded box."""
    hits = 0
    for img, box in zip(frames, boxes):
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY if rgb else cv2.COLOR_BGR2GRAY)
        found = HAAR_FACE.detectMultiScale(grey, 1.1, 3)
        hits += any(iou((x, y, x + w, y + h), box) > 0.4 for x, y, w, h in found)
    return hits


def planarity(depth: np.ndarray, box) -> float:
    """Share of face-box depth pixels within 3 levels of a robustly fitted plane (1 = flat)."""
    x1, y1, x2, y2 = np.clip(box, 0, None)
    patch = depth[y1:y2, x1:x2].astype(np.float64)
    yy, xx = np.mgrid[y1:y2, x1:x2]
    ok = patch > 0
    a, z = np.c_[xx[ok], yy[ok], np.ones(ok.sum())], patch[ok]
    keep = np.ones(len(z), bool)
    for _ in range(4):  # trimmed least squares: cut-outs and outliers do not bend the plane
        coef, *_ = np.linalg.lstsq(a[keep], z[keep], rcond=None)
        res = np.abs(z - a @ coef)
        keep = res <= max(2 * np.median(res[keep]), 1.0)
    return float((res < 3).mean())


def affine_residual(frames: list[np.ndarray], box) -> float:
    """Worst (over frames) 99th-percentile error inside the face after aligning each frame to
    the first with one global affine transform (ECC): small for rigid planes, large for faces."""
    first = cv2.cvtColor(frames[0], cv2.COLOR_BGR2GRAY).astype(np.float32)
    x1, y1, x2, y2 = np.clip(box, 0, None)
    worst = 0.0
    for img in frames[1:]:
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
        _, warp = cv2.findTransformECC(first, grey, np.eye(2, 3, dtype=np.float32),
                                       cv2.MOTION_AFFINE, criteria, None, 3)
        aligned = cv2.warpAffine(grey, warp, grey.shape[::-1],
                                 flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP)
        diff = cv2.GaussianBlur(np.abs(aligned - first), (0, 0), 1.0)[y1:y2, x1:x2]
        worst = max(worst, float(np.percentile(diff, 99)))
    return worst


def assert_frame_folders(root: Path, rec: demo.DemoRecording, folders: tuple[str, ...], sparse: bool = False) -> None:
    """Numbered JPEGs as the release names them (``0001.jpg``, or one frame in ten ``1.jpg, 11.jpg``),
    with the frames the release's detector lost missing, each frame its own face crop size."""
    for folder in folders:
        modality = {"color": "rgb", "profile": "rgb"}.get(folder, folder)
        numbers = rec.frame_numbers[modality]
        names = {p.name for p in (root / rec.rel_path / folder).iterdir()}
        assert names == {f"{n}.jpg" if sparse else f"{n:04d}.jpg" for n in numbers}, rec.rel_path
        step = 10 if sparse else 1
        assert numbers[0] == 1 and all(n % step == 1 % step for n in numbers)
        assert len(numbers) >= len(range(1, numbers[-1] + 1, step)) - 2  # at most two numbers lost


def assert_release_irregularities(root: Path, recs: list[demo.DemoRecording], folders: dict[str, str]) -> None:
    """As in the real releases: sizes vary within a recording, depth and IR are at about half the RGB's
    scale, and some frame numbers are missing from one modality only."""
    one_modality = 0
    for rec in recs:
        sizes = {m: {f.shape[:2] for f in read_frames(root / rec.rel_path / folder).values()}
                 for m, folder in folders.items()}
        assert len(sizes["rgb"]) > 1 and len(sizes["depth"]) > 1, rec.rel_path
        rgb_height, depth_height = (np.median([s[0] for s in sizes[m]]) for m in ("rgb", "depth"))
        assert 0.4 < depth_height / rgb_height < 0.65, rec.rel_path
        numbers = [set(n) for n in rec.frame_numbers.values()]
        one_modality += set.union(*numbers) != set.intersection(*numbers)
    assert 0 < one_modality < len(recs)


# ---------------------------------------------------------------- layout
CEFA_2D = re.compile(r"CASIA_CeFA/Ethnicity/(AF|CA|EA)/\1-(\d{3})/([123])_\2_(\d)_(\d)_(\d)")
CEFA_MASK = re.compile(r"CASIA_CeFA/Mask/(3D-Mask|Silicone-Mask)/(\d{3})/([12])_\2_([01])_([01])"
                       r"_2_([12])_([234])")


def test_cefa_public_layout(built):
    root, recs = built("cefa")
    on_disk = {p.parent.relative_to(root).as_posix() for p in root.rglob("color")}
    assert on_disk == {r.rel_path for r in recs}
    codes, splits, masks = defaultdict(set), defaultdict(set), Counter()
    assert_release_irregularities(root, recs, {"rgb": "color", "depth": "depth", "ir": "ir"})
    for rec in recs:
        assert_frame_folders(root, rec, ("color", "depth", "ir"))
        assert rec.video_id == rec.rel_path.rsplit("/", 1)[1]
        if m := CEFA_2D.fullmatch(rec.rel_path):
            eth, sid, race = m[1], int(m[2]), int(m[3])
            assert layouts.ETHNICITIES[race] == eth and rec.subject == f"{eth}-{m[2]}"
            codes[rec.subject].add("_".join(m.group(4, 5, 6)))
            splits[eth].add("train" if sid < 200 else "dev" if sid < 300 else "test")
        else:
            m = CEFA_MASK.fullmatch(rec.rel_path)
            assert m, rec.rel_path
            assert rec.attack_type == ("mask3d" if m[3] == "1" else "silicone")
            assert rec.subject == f"{rec.attack_type}-{m[2]}"
            masks[rec.attack_type] += 1
    assert all(c == {"1_1_1", "3_1_2", "3_2_2", "3_1_4"} for c in codes.values())
    assert splits == {eth: {"train", "dev", "test"} for eth in ("AF", "CA", "EA")}
    assert masks["mask3d"] >= 1 and masks["silicone"] >= 1


def test_cefa_frames_are_crops_on_black(built):
    root, recs = built("cefa")
    for rec in recs[::5]:
        for folder in ("color", "depth", "ir"):
            img = next(iter(read_frames(root / rec.rel_path / folder).values()))
            h, w = img.shape[:2]
            c = max(2, min(h, w) // 12)
            corners = [img[:c, :c], img[:c, -c:], img[-c:, :c], img[-c:, -c:]]
            # black, up to JPEG ringing: what the shard stage's black level allows for
            assert all(corner.max() <= BLACK_LEVEL for corner in corners), (rec.rel_path, folder)
            assert img[h // 2 - 4:h // 2 + 4, w // 2 - 4:w // 2 + 4].mean() > 2  # the face is there


def test_cefa_challenge_layout_and_lists(built):
    root, recs = built("cefa", "challenge")
    by_path = {r.rel_path: r for r in recs}
    train = [r for r in recs if r.rel_path.startswith("train/")]
    assert all(re.fullmatch(r"train/([123])_(\d{3})_[13]_[12]_[14]", r.rel_path) for r in train)
    assert all(int(r.rel_path.split("_")[1]) < 200 for r in train)
    for split, first in (("dev", 3000), ("test", 1)):
        numbers = sorted(int(p.name) for p in (root / split).iterdir())
        assert numbers == list(range(first, first + len(numbers))) and numbers
        assert all(len(p.name) == 6 for p in (root / split).iterdir())
    for rec in recs:
        assert_frame_folders(root, rec, ("profile", "depth", "ir"))
    for k, eth in layouts.ETHNICITIES.items():
        lines = (root / f"4@{k}_train.txt").read_text().splitlines()
        # one line per frame number every modality has
        paired = [set.intersection(*map(set, r.frame_numbers.values())) for r in train if r.rel_path[6] == str(k)]
        assert len(lines) == sum(map(len, paired))
        for line in lines:
            rgb, depth, ir, label = line.split(" ")
            assert rgb.split("/")[2] == "profile"
            assert all((root / p).is_file() for p in (rgb, depth, ir))
            real = rgb.split("/")[1].endswith("_1_1_1")
            assert rgb.startswith(f"train/{k}_") and label == str(int(real))
        for name, same_eth in (("dev_ref", True), ("test_ref", False)):
            text = (root / f"4@{k}_{name}.txt").read_text()
            rows = [line.split(" ") for line in text.splitlines()]
            assert {label for _, label in rows} == {"0", "1"}
            for path, label in rows:
                rec = by_path[path]
                assert label == str(int(rec.is_bonafide))
                assert (rec.attributes["ethnicity"] == eth) == same_eth
        test_res = (root / f"4@{k}_test_res.txt").read_text().split()
        assert test_res == [row.split(" ")[0] for row in
                            (root / f"4@{k}_test_ref.txt").read_text().splitlines()]


SURF = re.compile(r"CASIA_SURF/Data/(Training|Val|Testing)/(real_part|fake_part)/(CLKJ_AS\d{4})/"
                  r"(real|0([1-6])_(e|en|enm)_([sb]))\.rssdk")


def test_surf_layout(built):
    root, recs = built("surf")
    subjects = defaultdict(set)
    for rec in recs:
        m = SURF.fullmatch(rec.rel_path)
        assert m, rec.rel_path
        assert (m[2] == "real_part") == (m[4] == "real") == rec.is_bonafide
        if m[5]:
            assert (int(m[5]) >= 4) == (m[1] == "Training") and rec.attack_type == "cut_print"
        assert rec.subject == m[3] and rec.video_id == f"{m[3]}-{m[4]}"
        subjects[m[1]].add(m[3])
        assert_frame_folders(root, rec, ("color", "depth", "ir"), sparse=True)
    assert_release_irregularities(root, recs, {"rgb": "color", "depth": "depth", "ir": "ir"})
    assert set(subjects) == {"Training", "Val", "Testing"}
    assert sum(map(len, subjects.values())) == len(set().union(*subjects.values()))
    assert Counter(r.attack_type for r in recs) == {"bonafide": 3, "cut_print": 9}


OULU = re.compile(r"OULU_NPU/(Train|Dev|Test)_files/([1-6])_([1-3])_(\d{2})_([1-5])\.(avi|txt)")


def test_oulu_layout(built):
    root, recs = built("oulu")
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    per_user = Counter()
    for path in files:
        if path.endswith(".json") or path.startswith("lists/"):
            continue
        m = OULU.fullmatch(path)
        assert m, path
        user = int(m[4])
        assert {"Train": 1 <= user <= 20, "Dev": 21 <= user <= 35, "Test": 36 <= user <= 55}[m[1]]
        per_user[m[1], user, m[6]] += 1
    assert len({k[:2] for k in per_user}) == 3  # one user per split
    assert set(per_user.values()) == {6 * 3 * 5}  # every phone x session x file, video and .txt
    rec = recs[0]
    assert rec.video_id == Path(rec.rel_path).stem and rec.subject == rec.video_id.split("_")[2]
    assert len(read_video(root / rec.rel_path)) == rec.n_frames["rgb"]


SIW = re.compile(r"SiW/(Train|Test)/(live|spoof)/(\d{3})/"
                 r"\3-([12])-([123])-([1-4])-([12])\.(mov|face)")


def test_siw_layout(built):
    root, recs = built("siw")
    covered, subjects = defaultdict(set), defaultdict(set)
    for path in (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()):
        if path.endswith(".json") or path.startswith("lists/"):
            continue
        m = SIW.fullmatch(path)
        assert m, path
        kind, medium = int(m[5]), int(m[6])
        assert (m[2] == "live") == (kind == 1) and medium <= {1: 2, 2: 2, 3: 4}[kind]
        covered[m[1]].add((kind, medium if kind > 1 else 0))
        subjects[m[1]].add(m[3])
    need = {(1, 0), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (3, 4)}
    assert covered == {"Train": need, "Test": need}
    assert not subjects["Train"] & subjects["Test"]
    rec = recs[0]
    assert rec.video_id == Path(rec.rel_path).stem and rec.subject == rec.video_id[:3]
    assert len(read_video(root / rec.rel_path)) == rec.n_frames["rgb"] > 8


# ---------------------------------------------------------------- determinism
@pytest.mark.parametrize("dataset", ["cefa", "surf", "siw", "oulu"])
def test_same_seed_same_bytes(built, dataset, tmp_path, monkeypatch):
    root, _ = built(dataset)
    if dataset == "oulu":  # one user is enough: its files must equal the full run's
        monkeypatch.setattr(layouts, "OULU_USERS", {"Dev_files": [21]})
    demo.generate(dataset, tmp_path, size="tiny")
    again, first = tree_hashes(tmp_path), tree_hashes(root)
    assert again and all(first[path] == digest for path, digest in again.items()
                         if not path.endswith(".json"))


@pytest.mark.parametrize("dataset", ["surf", "oulu"])
def test_other_seed_other_bytes(built, dataset, tmp_path, monkeypatch):
    root, _ = built(dataset)
    if dataset == "oulu":
        monkeypatch.setattr(layouts, "OULU_USERS", {"Dev_files": [21]})
    demo.generate(dataset, tmp_path, size="tiny", seed=1)
    other, first = tree_hashes(tmp_path), tree_hashes(root)
    written = [p for p in other if not p.endswith((".json", ".txt"))]
    media = [p for p in written if p in first]  # another seed loses other frames
    assert len(media) > 0.9 * len(written) and all(other[p] != first[p] for p in media)


@pytest.mark.slow
def test_workers_do_not_change_bytes(built, tmp_path):
    root, _ = built("surf")
    demo.generate("surf", tmp_path, size="tiny", workers=2)
    assert tree_hashes(tmp_path) == tree_hashes(root)


# ---------------------------------------------------------------- faces
def test_haar_finds_cefa_faces(built):
    root, recs = built("cefa")
    by_type = defaultdict(list)
    for rec in recs:
        frames = read_frames(root / rec.rel_path / "color", cv2.IMREAD_COLOR)
        hits = haar_hits(list(frames.values()), [rec.boxes["rgb"][n] for n in frames], rgb=False)
        assert hits >= 1, rec.rel_path
        by_type[rec.attack_type].append(hits / len(frames))
    assert set(by_type) == {"bonafide", "print", "replay", "mask3d", "silicone"}
    assert all(np.mean(rates) >= 0.7 for rates in by_type.values()), by_type


def test_haar_finds_oulu_faces(built):
    root, recs = built("oulu")
    sample = [r for r in recs if r.attributes["phone"] == 4]  # all users, sessions and files
    rates = defaultdict(list)
    for rec in sample:
        frames = read_video(root / rec.rel_path)
        hits = haar_hits(frames, rec.face_boxes, rgb=True)
        rates[rec.attributes["file"]].append(hits / len(frames))
    assert all(np.mean(r) >= 0.8 for r in rates.values()), rates


# ---------------------------------------------------------------- physics
@pytest.mark.parametrize("dataset", ["cefa", "surf"])
def test_depth_relief_only_for_faces_and_masks(built, dataset):
    root, recs = built(dataset)
    flat = {"print": 0.85, "replay": 0.85, "cut_print": 0.55}  # cut-outs show the face: less flat
    for rec in recs:
        depth = read_frames(root / rec.rel_path / "depth")
        score = np.mean([planarity(d, rec.boxes["depth"][n]) for n, d in depth.items()])
        if rec.attack_type in ("bonafide", "mask3d", "silicone"):
            assert score < 0.45, (rec.rel_path, score)
        else:
            assert score > flat[rec.attack_type], (rec.rel_path, score)


def test_ir_screens_are_dark(built):
    root, recs = built("cefa")
    means = defaultdict(dict)
    for rec in recs:
        if rec.attack_type in ("bonafide", "replay"):
            ir = read_frames(root / rec.rel_path / "ir")
            boxes = [np.clip(rec.boxes["ir"][n], 0, None) for n in ir]
            means[rec.subject][rec.attack_type] = np.mean(
                [img[y1:y2, x1:x2].mean() for img, (x1, y1, x2, y2) in zip(ir.values(), boxes)])
    for subject, m in means.items():
        assert m["replay"] < 0.25 * m["bonafide"], (subject, m)


def test_ir_does_not_follow_skin_tone():
    """Melanin darkens RGB but barely changes near-infrared reflectance: IR is tone-independent."""
    def face_means(tone: str) -> tuple[float, float]:
        shot = render(RenderSpec("1_005_1_1_1", "S-005", "bonafide", 3, 96, 96, tone=tone), 0)
        x1, y1, x2, y2 = shot.face_boxes[0]
        return (float(shot.frames["rgb"][0][y1:y2, x1:x2].mean()),
                float(shot.frames["ir"][0][y1:y2, x1:x2].mean()))

    (rgb_af, ir_af), (rgb_ca, ir_ca) = face_means("AF"), face_means("CA")
    assert rgb_af < 0.7 * rgb_ca, (rgb_af, rgb_ca)
    assert abs(ir_af - ir_ca) < 0.05 * ir_ca, (ir_af, ir_ca)


def test_oulu_eye_file_matches_record(built):
    root, recs = built("oulu")
    for rec in recs[::7]:
        rows = np.loadtxt(root / Path(rec.rel_path).with_suffix(".txt"), delimiter=",", dtype=int)
        assert (rows[:, 0] == np.arange(rec.n_frames["rgb"])).all()
        assert (rows[:, 1:] == rec.eyes).all()
        x1, y1, x2, y2 = rec.face_boxes.T
        xr, yr, xl, yl = rec.eyes.T
        assert (xr < xl).all()  # the subject's right eye is on the image left
        assert ((x1 < xr) & (xl < x2) & (y1 < yr) & (yr < y2) & (y1 < yl) & (yl < y2)).all()


def test_eye_positions_are_where_the_eyes_are():
    shot = render(RenderSpec("1_1_01_1", "oulu-01", "bonafide", 6, 320, 240, scene=True), 0)
    errors = []
    for img, eyes, (x1, y1, x2, y2) in zip(shot.frames["rgb"], shot.eyes, shot.face_boxes):
        grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[y1:y2, x1:x2]
        found = [(x1 + x + w / 2, y1 + y + h / 2) for x, y, w, h in
                 HAAR_EYE.detectMultiScale(grey, 1.05, 3)]
        errors += [min(np.hypot(ex - cx, ey - cy) for cx, cy in found) if found else 99
                   for ex, ey in eyes.reshape(2, 2)]
    assert np.median(errors) < 3 and np.mean(np.array(errors) < 6) > 0.75, errors


def test_siw_face_files(built):
    root, recs = built("siw")
    gaps = 0
    for rec in recs:
        lines = (root / Path(rec.rel_path).with_suffix(".face")).read_text().splitlines()
        boxes = np.array([[int(v) for v in line.split(" ")] for line in lines])
        assert boxes.shape == (rec.n_frames["rgb"], 4)
        missing = (boxes == 0).all(axis=1)
        gaps += missing.sum()
        assert (boxes[~missing] == rec.face_boxes[~missing]).all()
        assert (rec.face_boxes[:, 2:] > rec.face_boxes[:, :2]).all()  # the true box is kept
    assert gaps > 0


# ---------------------------------------------------------------- motion
def test_live_faces_move_non_rigidly_prints_rigidly(built):
    root, recs = built("cefa")
    residual = defaultdict(dict)
    for rec in recs:
        if rec.attack_type in ("bonafide", "print"):
            frames = read_frames(root / rec.rel_path / "color", cv2.IMREAD_COLOR)
            first = next(iter(frames))  # per-frame crops: ECC's affine also takes up their other margins
            residual[rec.subject].setdefault(rec.attack_type, []).append(
                affine_residual(on_one_canvas(list(frames.values())), rec.boxes["rgb"][first]))
    for subject, r in residual.items():
        assert r["bonafide"][0] > 2.0 * max(r["print"]), (subject, r)


def test_record_annotations_move_with_the_face(built):
    _, recs = built("siw")
    for rec in recs:
        assert rec.face_boxes.shape == (rec.n_frames["rgb"], 4)
        assert len({tuple(b) for b in rec.face_boxes}) > 1  # the face moves


# ---------------------------------------------------------------- CLI and errors
def test_cli_help():
    done = subprocess.run([sys.executable, "-m", "pipeline.demo", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--dataset" in done.stdout and "--release" in done.stdout


def test_main_writes_a_tree(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="pipeline.demo"):
        demo_main(["--dataset", "surf", "--out", str(tmp_path), "--size", "tiny", "--seed", "3"])
    assert len(list(tmp_path.glob("CASIA_SURF/Data/*/*_part/*/*.rssdk/color/1.jpg"))) == 12
    assert json.loads((tmp_path / "demo-surf.json").read_text())["seed"] == 3
    assert any("wrote 12 surf recordings" in r.getMessage() for r in caplog.records)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="dataset"):
        demo.generate("replay-attack", tmp_path)
    with pytest.raises(ValueError, match="challenge"):
        demo.generate("oulu", tmp_path, release="challenge")
    with pytest.raises(SystemExit):
        demo_main(["--dataset", "siw", "--out", str(tmp_path), "--release", "challenge"])


@pytest.mark.slow
def test_full_size_videos_are_full_hd_long_gop_h264_with_b_frames(tmp_path, monkeypatch):
    """--size full: SiW at its real resolution and length, encoded as phones and webcams encode (a keyframe,
    then P- and B-frames), so a decode benchmark on it pays what real data costs. One video suffices."""
    from pipeline.datasets.probe import video_frame_count

    monkeypatch.setattr(layouts, "SIW_IDS", {"Train": [3]})
    monkeypatch.setattr(layouts, "_siw_codes", lambda n_live: [(1, 1, 1, 1)])
    recs = demo.generate("siw", tmp_path, size="full")
    assert len(recs) == 1
    video = tmp_path / recs[0].rel_path
    capture = cv2.VideoCapture(str(video))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    capture.release()
    assert size == (1920, 1080) and video_frame_count(video) == recs[0].n_frames["rgb"] >= 300
    types = frame_types(video)
    assert types[0] == "I" and types.count("I") <= 2 and types.count("B") > len(types) / 2, types
    assert len((video.with_suffix(".face")).read_text().splitlines()) == recs[0].n_frames["rgb"]
