"""Window planning and decoding in numeric frame order."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.frames import DecodeError, open_source
from pipeline.windows import plan_windows


def test_windows_cover_the_recording_evenly():
    windows = plan_windows(100, 7, 4)
    assert [w[0] for w in windows] == [0, 31, 62, 93]
    assert all(len(w) == 7 and (np.diff(w) == 1).all() for w in windows)
    assert windows[-1][-1] == 99


def test_frame_limit_and_short_recordings():
    assert max(w[-1] for w in plan_windows(300, 7, 4, frame_limit=60)) == 59  # SiW P1: first 60 frames
    assert [list(w) for w in plan_windows(8, 7, 4)] == [list(range(0, 7)), list(range(1, 8))]
    assert plan_windows(6, 7, 4) == []
    with pytest.raises(ValueError):
        plan_windows(10, 0, 1)


def test_frame_folder_reads_in_numeric_order(tmp_path):
    for number in (1, 2, 10):  # file-system order would put 10 before 2
        cv2.imwrite(str(tmp_path / f"{number}.png"), np.full((4, 4, 3), number, np.uint8))
    source = open_source(tmp_path)
    assert source.n_frames == 3
    assert source.read([0, 1, 2])[:, 0, 0, 0].tolist() == [1, 2, 10]
    assert open_source(tmp_path, grey=True).read([2]).shape == (1, 4, 4)


def test_corrupt_frame_names_the_file(tmp_path):
    cv2.imwrite(str(tmp_path / "0001.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "0002.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DecodeError, match="0002.jpg: not a readable image"):
        open_source(tmp_path).read([0, 1])


def test_video_reads_requested_frames(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (32, 32))
    for value in range(0, 250, 25):
        writer.write(np.full((32, 32, 3), value, np.uint8))
    writer.release()
    source = open_source(path)
    assert source.n_frames == 10
    means = source.read([0, 5, 9]).reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(means, [0, 125, 225], atol=3)
    with pytest.raises(DecodeError, match="video holds 10"):
        source.read([10])
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(DecodeError, match="empty.avi: cannot open video"):
        open_source(tmp_path / "empty.avi")


def test_each_split_reads_the_windows_of_its_own_frame_rule():
    from pipeline.plan import recording_windows

    windows = recording_windows(300, [("1/train", 60), ("1/dev", None), ("2_1/train", None)], 7, 4)
    per_split = {split: [w.frames[0] for w, splits in windows if split in splits] for split in ("1/train", "1/dev", "2_1/train")}
    assert per_split["1/train"] == [0, 18, 35, 53] and max(w.frames[-1] for w, s in windows if "1/train" in s) < 60
    assert per_split["1/dev"] == per_split["2_1/train"] == [0, 98, 195, 293]


def test_bad_shard_settings_are_refused_before_any_task():
    from pipeline.samples import SampleConfig

    with pytest.raises(ValueError, match="quantisation='min-max': expected one of"):
        SampleConfig(quantisation="min-max")
    with pytest.raises(ValueError, match="detector='mtcnn'"):
        SampleConfig(detector="mtcnn")
