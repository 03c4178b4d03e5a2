"""The record validator and the adapters' handling of names they cannot parse."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.datasets import DATASETS, cefa, get_adapter, oulu, siw, surf
from pipeline.datasets.records import RecordError, make_recording

REPO = Path(__file__).resolve().parent.parent


def _record(**overrides):
    fields = dict(
        video_id="1_120_1_1_1", dataset="cefa", subject="AF-120", attack_type="bonafide", attack_detail="",
        source_split="train", paths={"rgb": "a/color"}, frame_numbers={"rgb": (1, 2, 3)}, face_source="black_border",
    )
    return make_recording(**(fields | overrides))


def test_bonafide_is_derived_from_attack_type_only():
    assert _record().is_bonafide is True
    assert _record(attack_type="replay", attack_detail="screen").is_bonafide is False
    assert _record().to_row()["is_bonafide"] is True


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": ""}, "subject"),
        ({"attack_type": "deepfake"}, "attack_type"),
        ({"video_id": "real.rssdk"}, "video_id"),
        ({"video_id": "_hidden"}, "video_id"),
        ({"video_id": "a/b"}, "video_id"),
        ({"paths": {"thermal": "x"}, "frame_numbers": {"thermal": (1,)}}, "paths"),
        ({"frame_numbers": {}}, "frame_numbers"),
        ({"frame_numbers": {"rgb": (3, 1, 2)}}, "frame_numbers[rgb]"),  # must come in frame order
        ({"frame_numbers": {"rgb": (1, 1, 2)}}, "frame_numbers[rgb]"),
        ({"attack_detail": "screen"}, "attack_detail"),
        ({"face_source": "eyes"}, "face_source"),  # eyes need an annotation file
    ],
)
def test_validator_names_the_field_and_value(overrides, field):
    with pytest.raises(RecordError) as error:
        _record(**overrides)
    assert error.value.field_name == field
    assert field in str(error.value) and "expected" in str(error.value)


def test_registry_builds_every_name_and_refuses_unknown():
    for name in DATASETS:
        module = get_adapter(name)
        assert module.NAME == name
        assert callable(module.scan) and callable(module.read_lists)
        assert (REPO / "protocols" / f"{name}.yaml").is_file()
    with pytest.raises(ValueError, match="unknown dataset 'casia'"):
        get_adapter("casia")


def test_label_polarity_per_list_format():
    # CeFA and CASIA-SURF lists: 0 = bona fide; SiW and the CeFA challenge: 1 = bona fide
    assert cefa.PUBLIC_LABELS.parse("0") is True and cefa.PUBLIC_LABELS.parse("1") is False
    assert surf.LIST_LABELS.parse("0") is True and oulu.CFD_LABELS.parse("0") is True
    assert siw.LIST_LABELS.parse("1") is True and siw.LIST_LABELS.parse("0") is False
    assert cefa.CHALLENGE_LABELS.parse("1") is True
    assert oulu.official_list_label("+1") is True and oulu.official_list_label("-2") is False
    with pytest.raises(ValueError, match="not 0 or 1"):
        siw.LIST_LABELS.parse("2")
    # writing a list is the inverse of reading it, for every format
    for labels in (cefa.PUBLIC_LABELS, cefa.CHALLENGE_LABELS, surf.LIST_LABELS, siw.LIST_LABELS, oulu.CFD_LABELS):
        assert [labels.parse(labels.format(b)) for b in (True, False)] == [True, False]
    written = {labels.format(True) for labels in (cefa.PUBLIC_LABELS, surf.LIST_LABELS, oulu.CFD_LABELS)}
    assert written == {"0"} and siw.LIST_LABELS.format(True) == cefa.CHALLENGE_LABELS.format(True) == "1"


def _frames(folder: Path, count: int = 2) -> None:
    folder.mkdir(parents=True)
    for index in range(1, count + 1):
        cv2.imwrite(str(folder / f"{index:04d}.jpg"), np.zeros((4, 4, 3), np.uint8))


def test_cefa_reports_malformed_and_incomplete_recordings(tmp_path):
    subject = tmp_path / "CASIA_CeFA/Ethnicity/AF/AF-120"
    for modality in ("color", "depth", "ir"):
        _frames(subject / "1_120_1_1_1" / modality, 3)
        _frames(subject / "1_120_9_1_1" / modality)     # device code 9 does not exist
        _frames(subject / "2_120_3_1_4" / modality)     # race code 2 (CA) under AF
    _frames(subject / "1_120_3_1_4/color")               # no depth, no ir
    (subject / "1_120_3_1_2/color").mkdir(parents=True)  # empty colour folder
    (subject / "1_120_3_1_2/depth").mkdir()
    (subject / "notes.txt").write_text("stray")
    _frames(tmp_path / "CASIA_CeFA/Ethnicity/XX/XX-001/1_001_1_1_1/color")
    found = cefa.scan(tmp_path)
    assert [r.video_id for r in found.recordings] == ["1_120_1_1_1"]
    assert found.recordings[0].frame_numbers == {"rgb": (1, 2, 3), "depth": (1, 2, 3), "ir": (1, 2, 3)}
    reasons = {p.path.split("/")[-1]: p.reason for p in found.problems}
    assert reasons == {
        "1_120_9_1_1": "malformed_name",
        "2_120_3_1_4": "inconsistent_name",
        "1_120_3_1_4": "missing_modality",
        "1_120_3_1_2": "no_frames",
        "notes.txt": "unexpected_file",
        "XX": "unknown_name",
    }


def test_frame_numbers_ignore_non_frames_and_sort_numerically(tmp_path):
    from pipeline.datasets.probe import numbered_frames
    from pipeline.datasets.records import ScanError

    folder = tmp_path / "color"
    folder.mkdir()
    for name in ("101.jpg", "11.jpg", "1.jpg", "21.jpg", "Thumbs.db", "cover.jpg"):  # CASIA-SURF: every 10th
        (folder / name).write_bytes(b"x")
    frames = numbered_frames(folder)
    assert list(frames) == [1, 11, 21, 101] and frames[11].name == "11.jpg"  # not 1, 101, 11, 21
    (folder / "0011.jpg").write_bytes(b"x")
    with pytest.raises(ScanError, match="0011.jpg and 11.jpg are both frame 11"):
        numbered_frames(folder)


def test_a_row_pairs_modalities_by_frame_number():
    """A number missing from one modality is missing for the recording; the row says which and where."""
    from pipeline.datasets.records import manifest_frame_numbers, paired_frame_numbers

    rec = _record(paths={"rgb": "a/color", "depth": "a/depth", "ir": "a/ir"},
                  frame_numbers={"rgb": (1, 2, 3, 5), "depth": (1, 3, 4, 5), "ir": (1, 2, 3, 4, 5)})
    row = rec.to_row()
    assert row["n_frames_paired"] == 3 and paired_frame_numbers(rec.frame_numbers) == [1, 3, 5]
    assert (row["missing_frames_rgb"], row["missing_frames_depth"], row["missing_frames_ir"]) == ([4], [2], [])
    assert (row["n_frames_rgb"], row["n_frames_depth"]) == (4, 4)  # equal counts, different frames
    assert manifest_frame_numbers(row) == {"rgb": [1, 2, 3, 5], "depth": [1, 3, 4, 5], "ir": [1, 2, 3, 4, 5]}


def test_video_adapters_report_unreadable_and_orphan_files(tmp_path):
    split = tmp_path / "OULU_NPU/Train_files"
    split.mkdir(parents=True)
    (split / "1_1_01_1.avi").write_bytes(b"")            # zero-byte video
    (split / "1_1_01_2.txt").write_text("0, 1, 1, 2, 1\n")  # eyes without a video
    (split / "1_1_40_1.avi").write_bytes(b"")            # user 40 is a test user
    (split / "readme.md").write_text("x")
    problems = {p.path.split("/")[-1]: p.reason for p in oulu.scan(tmp_path).problems}
    assert problems == {
        "1_1_01_1.avi": "unreadable_video",
        "1_1_01_2.txt": "orphan_annotation",
        "1_1_40_1.avi": "inconsistent_name",
        "readme.md": "unexpected_file",
    }
    subject = tmp_path / "SiW/Train/spoof/003"
    subject.mkdir(parents=True)
    (subject / "003-1-1-1-1.mov").write_bytes(b"")       # live name in the spoof folder
    (subject / "003-1-3-7-1.mov").write_bytes(b"")       # replay medium 7 does not exist
    problems = {p.path.split("/")[-1]: p.reason for p in siw.scan(tmp_path).problems}
    assert problems == {"003-1-1-1-1.mov": "inconsistent_name", "003-1-3-7-1.mov": "malformed_name"}


def test_missing_root_is_a_reported_problem(tmp_path):
    for module in map(get_adapter, DATASETS):
        found = module.scan(tmp_path)
        assert found.recordings == [] and found.problems[0].reason == "missing_root"
