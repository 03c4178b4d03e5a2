"""The cross-dataset adapters' facts: CASIA-FASD, Replay-Attack and MSU-MFSD names, labels, subjects, ids, their
face files, and every name outside a scheme reported (the good recordings kept)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.datasets import casia_fasd, msu_mfsd, replay_attack
from pipeline.datasets.records import AnnotationError
from pipeline.errors import UsageError
from pipeline.index import build_index

from .commands import assert_refused, run
from .reference_trees import link, tiny_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """``clip(suffix)``: a tiny readable video to hard-link wherever a test needs one."""
    folder = tmp_path_factory.mktemp("clips")
    made = {suffix: tiny_video(folder, suffix, fourcc) for suffix, fourcc in
            ((".avi", "MJPG"), (".mov", "jpeg"), (".mp4", "mp4v"))}
    return made.__getitem__


def videos(clip, root: Path, *paths: str) -> None:
    for path in paths:
        link(clip(Path(path).suffix), root / path)


def problems(found) -> dict[str, str]:
    return {p.path: p.reason for p in found.problems}


# -- CASIA-FASD ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("stem", "attack_type", "quality"), [
    ("1", "bonafide", "normal"), ("2", "bonafide", "low"), ("HR_1", "bonafide", "high"),
    ("3", "print", "normal"), ("4", "print", "low"), ("HR_2", "print", "high"),
    ("5", "cut_print", "normal"), ("6", "cut_print", "low"), ("HR_3", "cut_print", "high"),
    ("7", "replay", "normal"), ("8", "replay", "low"), ("HR_4", "replay", "high"),
])
def test_casia_fasd_labels_by_file_name(clip, tmp_path, stem, attack_type, quality):
    videos(clip, tmp_path, f"CASIA_faceAntisp/train_release/4/{stem}.avi")
    (recording,) = casia_fasd.scan(tmp_path).recordings
    assert (recording.attack_type, recording.attributes["quality"]) == (attack_type, quality)
    assert recording.is_bonafide == (attack_type == "bonafide")
    assert (recording.attack_detail == "") == recording.is_bonafide


def test_casia_fasd_test_subjects_are_the_folder_plus_20(clip, tmp_path):
    videos(clip, tmp_path, "CASIA_faceAntisp/train_release/1/1.avi", "CASIA_faceAntisp/test_release/1/1.avi",
           "CASIA_faceAntisp/train_release/20/HR_4.avi", "CASIA_faceAntisp/test_release/30/HR_4.avi")
    found = casia_fasd.scan(tmp_path / "CASIA_faceAntisp")  # the release's top folder as the root works too
    ids = {r.video_id: (r.subject, r.source_split) for r in found.recordings}
    assert ids == {"train_release-1-1": ("01", "train"), "test_release-1-1": ("21", "test"),
                   "train_release-20-HR_4": ("20", "train"), "test_release-30-HR_4": ("50", "test")}
    assert found.problems == [] and {r.face_source for r in found.recordings} == {"detector"}


def test_casia_fasd_reports_names_outside_the_scheme(clip, tmp_path):
    videos(clip, tmp_path, "CASIA_faceAntisp/train_release/2/1.avi", "CASIA_faceAntisp/train_release/2/9.avi",
           "CASIA_faceAntisp/train_release/2/HR_5.avi", "CASIA_faceAntisp/train_release/21/1.avi",
           "CASIA_faceAntisp/test_release/31/1.avi", "CASIA_faceAntisp/devel_release/1/1.avi")
    (tmp_path / "CASIA_faceAntisp/train_release/2/notes.txt").write_text("x")
    found = casia_fasd.scan(tmp_path)
    assert [r.video_id for r in found.recordings] == ["train_release-2-1"]
    assert problems(found) == {"CASIA_faceAntisp/devel_release": "unknown_name",
                               "CASIA_faceAntisp/test_release/31": "unknown_name",
                               "CASIA_faceAntisp/train_release/21": "unknown_name",
                               "CASIA_faceAntisp/train_release/2/9.avi": "malformed_name",
                               "CASIA_faceAntisp/train_release/2/HR_5.avi": "malformed_name",
                               "CASIA_faceAntisp/train_release/2/notes.txt": "unexpected_file"}


def test_casia_fasd_takes_bobs_face_files_from_the_annotations_folder(clip, tmp_path):
    videos(clip, tmp_path, "CASIA_faceAntisp/train_release/2/1.avi", "CASIA_faceAntisp/train_release/2/2.avi")
    faces = tmp_path / "face-locations/train_release/2"
    faces.mkdir(parents=True)
    (faces / "1.face").write_text("0 0 0 0 0\n1 3 4 8 8\n")
    (faces / "7.face").write_text("0 3 4 8 8\n")  # its video is not there
    found = casia_fasd.scan(tmp_path, annotations=tmp_path / "face-locations")
    recordings = {r.video_id: r for r in found.recordings}
    assert recordings["train_release-2-1"].face_source == "face_file"
    assert recordings["train_release-2-1"].annotation == "face-locations/train_release/2/1.face"
    assert recordings["train_release-2-2"].face_source == "detector"
    assert [(n.path, n.reason) for n in found.notes] == [("CASIA_faceAntisp/train_release/2/2.avi",
                                                         "missing_annotation")]
    assert problems(found) == {"face-locations/train_release/2/7.face": "orphan_annotation"}
    with pytest.raises(ValueError, match="must lie inside the raw root"):
        casia_fasd.scan(tmp_path / "CASIA_faceAntisp", annotations=tmp_path / "face-locations")


def test_index_refuses_an_annotations_folder_it_cannot_use(demo_root, tmp_path):
    root, _ = demo_root("casia_fasd")
    common = ["pipeline.index", "--dataset", "casia_fasd", "--out", str(tmp_path / "m")]
    assert_refused(run([*common, "--root", str(root / "CASIA_faceAntisp"), "--annotations",
                        str(root / "face-locations")]), "is outside --root", "put the folder (or a link to it) there")
    assert_refused(run([*common, "--root", str(root), "--annotations", str(root / "faces")]),
                   "no such folder", "bob.db.casia_fasd's face-locations/")
    assert_refused(run(["pipeline.index", "--dataset", "oulu", "--root", str(root), "--out", str(tmp_path / "m"),
                        "--annotations", str(root / "face-locations")]), "oulu ships its own", "casia_fasd")


# -- Replay-Attack ------------------------------------------------------------------------------------------
REAL = "client001_session01_webcam_authenticate_controlled_1"
PRINT = "attack_print_client001_session01_highdef_photo_adverse"


def test_replay_attack_labels_ids_and_supports(clip, tmp_path):
    base = "replayattack/train"
    videos(clip, tmp_path, f"{base}/real/{REAL}.mov", f"{base}/attack/fixed/{PRINT}.mov",
           f"{base}/attack/hand/{PRINT}.mov",
           f"{base}/attack/hand/attack_mobile_client001_session01_mobile_video_controlled.mov",
           f"{base}/attack/fixed/attack_highdef_client001_session01_highdef_photo_controlled.mov",
           "replayattack/enroll/client001_session01_webcam_enroll_controlled.mov")
    (tmp_path / "replayattack/enroll/Thumbs.db").write_bytes(b"x")
    found = replay_attack.scan(tmp_path)
    summary = {r.video_id: (r.attack_type, r.attack_detail, r.subject, r.source_split) for r in found.recordings}
    assert summary == {
        REAL: ("bonafide", "", "001", "train"),
        f"fixed-{PRINT}": ("print", "print_photo_fixed", "001", "train"),
        f"hand-{PRINT}": ("print", "print_photo_hand", "001", "train"),
        "hand-attack_mobile_client001_session01_mobile_video_controlled": ("replay", "mobile_video_hand", "001",
                                                                          "train"),
        "fixed-attack_highdef_client001_session01_highdef_photo_controlled": ("replay", "highdef_photo_fixed",
                                                                              "001", "train"),
    }
    assert [(p.path, p.reason) for p in found.problems] == [("replayattack/enroll/Thumbs.db", "unexpected_file")]
    assert [(n.path, n.reason) for n in found.notes if n.reason == "enrollment_video"] == [
        ("replayattack/enroll/client001_session01_webcam_enroll_controlled.mov", "enrollment_video")]
    assert {n.reason for n in found.notes} == {"missing_annotation", "enrollment_video"}  # no face-locations/ here


def test_replay_attack_reports_names_outside_the_scheme(clip, tmp_path):
    base = "replayattack/devel"  # devel holds clients 3, 5, 10, …: client 1 is a train client
    rel = "devel"  # the root is the release's top folder
    videos(clip, tmp_path, f"{base}/real/client003_session01_webcam_authenticate_adverse_2.mov",
           f"{base}/real/{REAL}.mov",
           f"{base}/real/client003_session01_webcam_authenticate_dark_1.mov",
           f"{base}/attack/fixed/attack_print_client003_session01_highdef_video_adverse.mov",
           f"{base}/attack/fixed/attack_mobile_client003_session01_highdef_photo_adverse.mov",
           f"{base}/attack/hand/client003_session01_webcam_authenticate_adverse_1.mov",
           f"{base}/attack/stand/attack_print_client003_session01_highdef_photo_adverse.mov",
           f"{base}/real/client120_session01_webcam_authenticate_adverse_1.mov")
    found = replay_attack.scan(tmp_path / "replayattack")
    assert [r.video_id for r in found.recordings] == ["client003_session01_webcam_authenticate_adverse_2"]
    assert found.recordings[0].source_split == "dev"
    assert problems(found) == {
        f"{rel}/real/{REAL}.mov": "inconsistent_name",  # a train client under devel/
        f"{rel}/real/client003_session01_webcam_authenticate_dark_1.mov": "malformed_name",
        f"{rel}/attack/fixed/attack_print_client003_session01_highdef_video_adverse.mov": "inconsistent_name",
        f"{rel}/attack/fixed/attack_mobile_client003_session01_highdef_photo_adverse.mov": "inconsistent_name",
        f"{rel}/attack/hand/client003_session01_webcam_authenticate_adverse_1.mov": "inconsistent_name",
        f"{rel}/attack/stand": "unknown_name",
        f"{rel}/real/client120_session01_webcam_authenticate_adverse_1.mov": "inconsistent_name",
    }


def test_replay_attack_face_locations_mirror_the_tree(clip, tmp_path):
    videos(clip, tmp_path, f"train/real/{REAL}.mov", f"train/attack/hand/{PRINT}.mov")  # no top folder
    faces = tmp_path / "face-locations/train"
    (faces / "real").mkdir(parents=True)
    (faces / "real" / f"{REAL}.face").write_text("0 10 20 30 40\n")
    (faces / "real" / "client002_session01_webcam_authenticate_adverse_1.face").write_text("0 1 1 5 5\n")
    (faces / "real" / "readme.txt").write_text("x")
    found = replay_attack.scan(tmp_path)
    recordings = {r.video_id: r for r in found.recordings}
    assert recordings[REAL].annotation == f"face-locations/train/real/{REAL}.face"
    assert recordings[f"hand-{PRINT}"].face_source == "detector"
    assert problems(found) == {"face-locations/train/real/client002_session01_webcam_authenticate_adverse_1.face":
                               "orphan_annotation", "face-locations/train/real/readme.txt": "unexpected_file"}


# -- MSU-MFSD -----------------------------------------------------------------------------------------------
def msu_tree(clip, root: Path, train: str = "02\r\n03", test: str = "01") -> Path:
    top = root / "MSU-MFSD"
    videos(clip, root, "MSU-MFSD/scene01/real/real_client002_android_SD_scene01.mp4",
           "MSU-MFSD/scene01/real/real_client001_laptop_SD_scene01.mov",
           "MSU-MFSD/scene01/attack/attack_client003_laptop_SD_printed_photo_scene01.mov",
           "MSU-MFSD/scene01/attack/attack_client003_android_SD_ipad_video_scene01.mp4",
           "MSU-MFSD/scene01/attack/attack_client001_android_SD_iphone_video_scene01.mp4")
    for name, text in (("train_sub_list.txt", train), ("test_sub_list.txt", test)):
        if text is not None:
            (top / name).write_text(text)
    return top


def test_msu_mfsd_labels_and_split_by_the_sub_lists(clip, tmp_path):
    msu_tree(clip, tmp_path)
    found = msu_mfsd.scan(tmp_path)
    summary = {r.video_id: (r.attack_type, r.attack_detail, r.subject, r.source_split, r.attributes["camera"])
               for r in found.recordings}
    assert summary == {
        "real_client002_android_SD_scene01": ("bonafide", "", "002", "train", "android"),
        "real_client001_laptop_SD_scene01": ("bonafide", "", "001", "test", "laptop"),
        "attack_client003_laptop_SD_printed_photo_scene01": ("print", "printed_photo", "003", "train", "laptop"),
        "attack_client003_android_SD_ipad_video_scene01": ("replay", "ipad_video", "003", "train", "android"),
        "attack_client001_android_SD_iphone_video_scene01": ("replay", "iphone_video", "001", "test", "android"),
    }
    assert found.problems == []


def test_msu_mfsd_a_client_in_neither_list_is_reported_and_the_rest_kept(clip, tmp_path):
    msu_tree(clip, tmp_path, train="02")  # client 3 is in neither list
    videos(clip, tmp_path, "MSU-MFSD/scene01/real/real_client002_android_SD_scene01.mov",  # android is .mp4
           "MSU-MFSD/scene01/real/real_client002_tablet_SD_scene01.mp4",
           "MSU-MFSD/scene01/attack/real_client001_android_SD_scene01.mp4")
    found = msu_mfsd.scan(tmp_path)
    assert len(found.recordings) == 3
    details = {p.path.split("/")[-1]: (p.reason, p.detail) for p in found.problems}
    assert details["attack_client003_laptop_SD_printed_photo_scene01.mov"] == (
        "unlisted_client", "client 003 is in neither train_sub_list.txt nor test_sub_list.txt: its split is unknown")
    assert {name: reason for name, (reason, _) in details.items()} == {
        "attack_client003_laptop_SD_printed_photo_scene01.mov": "unlisted_client",
        "attack_client003_android_SD_ipad_video_scene01.mp4": "unlisted_client",
        "real_client002_android_SD_scene01.mov": "inconsistent_name",
        "real_client002_tablet_SD_scene01.mp4": "malformed_name",
        "real_client001_android_SD_scene01.mp4": "inconsistent_name",
    }


@pytest.mark.parametrize(("train", "test", "expected"), [
    (None, "01", "train_sub_list.txt is missing: MSU-MFSD's split is by client"),
    ("02\n03", "01\n3", "test_sub_list.txt:2: client 3 is also in train_sub_list.txt"),
    ("02\nclient03", "01", "train_sub_list.txt:2: 'client03' is not a client number"),
    ("02", "\r\n", "test_sub_list.txt lists no client"),
])
def test_msu_mfsd_a_missing_or_broken_sub_list_stops_with_one_line(clip, tmp_path, train, test, expected):
    msu_tree(clip, tmp_path, train=train, test=test)
    with pytest.raises(UsageError, match=expected):
        msu_mfsd.scan(tmp_path)
    assert_refused(run(["pipeline.index", "--dataset", "msu_mfsd", "--root", str(tmp_path), "--out",
                        str(tmp_path / "m")]), expected)


def test_msu_mfsd_without_the_scene_folder(clip, tmp_path):
    top = msu_tree(clip, tmp_path)
    (top / "scene01" / "real").rename(top / "real")
    (top / "scene01" / "attack").rename(top / "attack")
    (top / "scene01").rmdir()
    assert len(msu_mfsd.scan(top).recordings) == 5


# -- the face files -----------------------------------------------------------------------------------------
def test_bob_face_files_leave_out_or_zero_the_frames_without_a_face(tmp_path):
    path = tmp_path / "v.face"
    path.write_text("0 10 20 30 40\n1 0 0 0 0\n\n3 12 21 30 40\n")  # frame 1 zeroed, frame 2 left out
    boxes = replay_attack.read_face_file(path)
    assert boxes.shape == (4, 4)
    assert boxes[0].tolist() == [10, 20, 40, 60] and boxes[3].tolist() == [12, 21, 42, 61]
    assert np.isnan(boxes[1]).all() and np.isnan(boxes[2]).all()
    assert casia_fasd.read_face_file is replay_attack.read_face_file  # bob's CASIA-FASD files: the same format


def test_msu_face_files_give_the_box_of_each_frame(tmp_path):
    path = tmp_path / "v.face"
    path.write_text("0, 10, 20, 50, 70, 20, 40, 40, 40\n2, 11, 21, 51, 71, 21, 41, 41, 41\n")
    boxes = msu_mfsd.read_face_file(path)
    assert boxes[0].tolist() == [10, 20, 50, 70] and boxes[2].tolist() == [11, 21, 51, 71]
    assert all(math.isnan(v) for v in boxes[1])


@pytest.mark.parametrize(("reader", "text", "message"), [
    (replay_attack.read_face_file, "0 10 20 30 40\n1 10 20 30\n", r"v\.face:2: '1 10 20 30': 4 values, expected 5"),
    (replay_attack.read_face_file, "0 10 20 30 40\n0 10 20 30 40\n", r"v\.face:2: .* frame 0 is given twice"),
    (replay_attack.read_face_file, "-1 10 20 30 40\n", r"v\.face:1: .* -1\.0 is not a frame number"),
    (msu_mfsd.read_face_file, "0, 10, 20, 50, 70\n", r"v\.face:1: .* 5 values, expected 9"),
])
def test_a_malformed_face_file_names_the_file_and_line(tmp_path, reader, text, message):
    path = tmp_path / "v.face"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message):
        reader(path)


# -- the demos ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["casia_fasd", "replay_attack", "msu_mfsd"])
def test_adapter_reads_back_what_the_demo_wrote(demo_root, dataset):
    root, recordings = demo_root(dataset)
    result = build_index(dataset, root, lists_dir=root / "lists")
    assert result.violations == [] and result.list_differences == []
    assert result.problems == []
    videos = result.videos.set_index("video_id")
    assert set(videos.index) == {r.video_id for r in recordings}
    for truth in recordings:
        row = videos.loc[truth.video_id]
        assert (row["subject"], bool(row["is_bonafide"]), row["attack_type"], row["n_frames_rgb"]) == (
            truth.subject, truth.is_bonafide, truth.attack_type, truth.n_frames["rgb"]), truth.video_id
    if dataset == "msu_mfsd":  # the upside-down videos: rotation read from the header, the detector for faces
        rotated = videos[videos["rotation"] != 0]
        assert set(rotated.index) == {r.video_id for r in recordings if r.attributes["rotation"]} != set()
        assert (rotated["face_source"] == "detector").all() and [n.reason for n in result.notes] == ["rotated_video"]
