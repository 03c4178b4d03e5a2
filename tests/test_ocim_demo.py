"""The cross-dataset demos (CASIA-FASD, Replay-Attack, MSU-MFSD): each release's layout, containers, codecs, sizes
and face files as written, MSU-MFSD's upside-down phone videos, and the tiny trees indexed and sharded end to end."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pipeline import demo
from pipeline.datasets.probe import video_frame_count, video_rotation
from pipeline.format.images import decode_image
from pipeline.format.tars import read_tar_samples
from pipeline.verify import verify

HAAR_FACE = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def container(path: Path) -> tuple[tuple[int, int], float, str]:
    """(width, height), frame rate and codec four-cc of a video file, from its header."""
    capture = cv2.VideoCapture(str(path))
    try:
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        return size, round(capture.get(cv2.CAP_PROP_FPS)), fourcc.lower()
    finally:
        capture.release()


def first_frame(path: Path, apply_rotation: bool = True) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, int(apply_rotation))
    ok, frame = capture.read()
    capture.release()
    assert ok, path
    return frame


def face_lines(path: Path) -> dict[int, list[float]]:
    return {int(float(v[0])): [float(x) for x in v[1:]]
            for v in (line.replace(",", " ").split() for line in path.read_text().splitlines()) if v}


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------- layouts
CASIA = re.compile(r"CASIA_faceAntisp/(train|test)_release/(\d+)/([1-8]|HR_[1-4])\.avi")


def test_casia_fasd_layout_sizes_and_bobs_face_files(demo_root):
    root, recs = demo_root("casia_fasd")
    videos = [p for p in files(root) if p.endswith(".avi")]
    assert all(CASIA.fullmatch(p) for p in videos) and len(videos) == len(recs) == 24
    assert Counter(CASIA.fullmatch(p)[1] for p in videos) == {"train": 12, "test": 12}
    for rec in recs:
        hr = "HR_" in rec.rel_path
        assert container(root / rec.rel_path) == ((1280, 720) if hr else (640, 480), 25, "mjpg")
        split, folder, stem = CASIA.fullmatch(rec.rel_path).groups()
        assert rec.subject == f"{int(folder) + (20 if split == 'test' else 0):02d}"
        # bob's face-locations, beside the release: a line per frame, "i 0 0 0 0" where no face was found
        lines = face_lines(root / "face-locations" / f"{split}_release" / folder / f"{stem}.face")
        assert sorted(lines) == list(range(rec.n_frames["rgb"]))
        for frame, (x, y, w, h) in lines.items():
            assert [x, y, x + w, y + h] == rec.face_boxes[frame].tolist() or [x, y, w, h] == [0, 0, 0, 0]
    assert not any(p.startswith("CASIA_faceAntisp/") and p.endswith(".face") for p in files(root))  # none shipped


REPLAY = re.compile(r"replayattack/(train|devel|test)/(real|attack/fixed|attack/hand)/(\w+)\.mov")


def test_replay_attack_layout_mjpeg_enrollment_and_face_locations(demo_root):
    root, recs = demo_root("replay_attack")
    on_disk = [p for p in files(root) if p.endswith(".mov")]
    pad = [p for p in on_disk if REPLAY.fullmatch(p)]
    enroll = [p for p in on_disk if p.startswith("replayattack/enroll/")]
    assert sorted(pad) == sorted(r.rel_path for r in recs) and len(enroll) == 6 and len(pad) + len(enroll) == len(
        on_disk)
    names = Counter(Path(p).name for p in pad if "/attack/" in p)
    assert set(names.values()) == {2}  # each attack file name under fixed/ and under hand/
    gaps = 0
    for path in pad + enroll:
        assert container(root / path) == ((320, 240), 25, "mjpg")
        lines = face_lines(root / "replayattack/face-locations" / Path(path).relative_to("replayattack")
                           .with_suffix(".face"))
        gaps += video_frame_count(root / path) - len(lines)
    assert gaps > 0  # frames where no face was found are left out
    for rec in recs:
        lines = face_lines(root / "replayattack/face-locations" / Path(rec.rel_path).relative_to("replayattack")
                           .with_suffix(".face"))
        assert all([x, y, x + w, y + h] == rec.face_boxes[f].tolist() for f, (x, y, w, h) in lines.items())


MSU = re.compile(r"MSU-MFSD/scene01/(real|attack)/\1_client(\d{3})_(android|laptop)_SD_"
                 r"(?:(ipad_video|iphone_video|printed_photo)_)?scene01\.(mp4|mov|face)")


def test_msu_mfsd_layout_h264_sub_lists_and_face_files(demo_root):
    root, recs = demo_root("msu_mfsd")
    media = [p for p in files(root) if p.startswith("MSU-MFSD/scene01/")]
    assert all(MSU.fullmatch(p) for p in media) and len(media) == 2 * len(recs)
    for rec in recs:
        camera = rec.attributes["camera"]
        size = (720, 480) if camera == "android" else (640, 480)
        assert rec.rel_path.endswith(".mp4" if camera == "android" else ".mov")
        assert container(root / rec.rel_path) == (size, 30, "h264")
    # the release's whole split, as it ships it: two-digit client numbers, CRLF lines
    train = (root / "MSU-MFSD/train_sub_list.txt").read_bytes()
    assert train.startswith(b"02\r\n03\r\n05\r\n") and len(train.split()) == 15
    assert len((root / "MSU-MFSD/test_sub_list.txt").read_bytes().split()) == 20
    for rec in (r for r in recs if not r.attributes["rotation"]):
        lines = face_lines((root / rec.rel_path).with_suffix(".face"))
        assert 0 < len(lines) <= rec.n_frames["rgb"]
        for frame, (x1, y1, x2, y2, left_x, _, right_x, _) in lines.items():
            assert [x1, y1, x2, y2] == rec.face_boxes[frame].tolist()
            assert left_x > right_x  # the subject's left eye is on the image's right


def test_msu_mfsd_upside_down_videos_are_turned_by_their_header(demo_root):
    """As in the release (bob flips clients 3, 5-9 on load): the pixels are stored upside down and the container
    says "turn 180°": a decoder that applies the header shows the face where it is, one that ignores it (as bob's
    did) shows it upside down. The face file was made on the stored pixels."""
    root, recs = demo_root("msu_mfsd")
    rotated = [r for r in recs if r.attributes["rotation"]]
    assert [(r.subject, r.attributes["camera"], r.is_bonafide) for r in rotated] == [("005", "android", True)]
    rec = rotated[0]
    video = root / rec.rel_path
    assert video_rotation(video) == 180 and all(video_rotation(root / r.rel_path) == 0 for r in recs if r != rec)
    upright, stored = first_frame(video), first_frame(video, apply_rotation=False)
    assert np.abs(np.rot90(stored, 2).astype(int) - upright).mean() < 1.0
    x1, y1, x2, y2 = rec.face_boxes[0]
    found = HAAR_FACE.detectMultiScale(cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY), 1.1, 3)
    assert any(abs(x + w / 2 - (x1 + x2) / 2) < 15 and abs(y + h / 2 - (y1 + y2) / 2) < 15 for x, y, w, h in found)
    assert len(HAAR_FACE.detectMultiScale(cv2.cvtColor(stored, cv2.COLOR_BGR2GRAY), 1.1, 3)) == 0
    width, height = 720, 480
    stored_box = face_lines(video.with_suffix(".face"))[0][:4]
    assert stored_box == [width - x2, height - y2, width - x1, height - y1]


def test_same_seed_same_bytes(demo_root, tmp_path):
    root, _ = demo_root("replay_attack")
    demo.generate("replay_attack", tmp_path, size="tiny")
    assert all((tmp_path / p).read_bytes() == (root / p).read_bytes() for p in files(tmp_path))


# ---------------------------------------------------------------- index and shard, end to end
@pytest.mark.parametrize("dataset", ["casia_fasd", "replay_attack", "msu_mfsd"])
def test_tiny_demo_shards_end_to_end_with_the_face_in_every_crop(demo_root, tiny_shards, dataset):
    config, truth = tiny_shards(dataset), {r.video_id: r for r in demo_root(dataset)[1]}
    videos = pd.read_parquet(config.manifests / "videos.parquet")
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    assert set(samples["video_id"]) == set(videos["video_id"]) == set(truth)  # nothing rejected, nothing lost
    assert verify(config.out, config.manifests) == []
    methods = samples.set_index("video_id")["crop_method"]
    annotated = videos.set_index("video_id")["face_source"] == "face_file"
    assert (methods[annotated[annotated].index] == "face_file").all()  # the release's (or bob's) boxes
    checked = 0
    for tar in sorted(config.out.glob("*.tar")):
        for key, members in read_tar_samples(tar).items():
            meta = json.loads(members["json"])
            rec = truth[meta["video_id"]]
            image = decode_image(members[f"rgb.{config.sample.image_format}"])
            centre = meta["frames"][len(meta["frames"]) // 2]
            x1, y1, x2, y2 = rec.face_boxes[centre]
            bx1, by1, bx2, by2 = meta["crop"]["box"]["rgb"]
            assert bx1 <= x1 and by1 <= y1 and x2 <= bx2 and y2 <= by2, key  # the true face lies in the crop
            assert (meta["is_bonafide"], meta["subject"]) == (rec.is_bonafide, rec.subject)
            if rec.is_bonafide:  # a live face, upright (MSU-MFSD's upside-down video included)
                assert len(HAAR_FACE.detectMultiScale(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 1.1, 3)) >= 1, key
            checked += 1
    assert checked == len(samples)
