"""Window planning and decoding in numeric frame order (the video decoders' own tests: test_video_decoders.py)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.errors import UsageError
from pipeline.frames import DecodeError, open_source
from pipeline.windows import Placement, plan_windows

from .videos import DECODERS


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


def test_frame_folder_is_read_by_frame_number_and_keeps_each_frame_size(tmp_path):
    for number, side in ((1, 4), (11, 6), (101, 5)):  # every 10th frame; file-system order: 1, 101, 11
        cv2.imwrite(str(tmp_path / f"{number}.png"), np.full((side, side + 1, 3), number, np.uint8))
    source = open_source(tmp_path)
    frames = source.read([11, 1, 101])
    assert [int(f[0, 0, 0]) for f in frames] == [11, 1, 101]
    assert [f.shape for f in frames] == [(6, 7, 3), (4, 5, 3), (5, 6, 3)]
    assert open_source(tmp_path, grey=True).read([101])[0].shape == (5, 6)
    with pytest.raises(DecodeError, match=r"frame number 21 is not in the folder .*pipeline.index"):
        source.read([21])


def test_corrupt_frame_names_the_file(tmp_path):
    cv2.imwrite(str(tmp_path / "0001.png"), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "0002.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(DecodeError, match="0002.jpg: not a readable image"):
        open_source(tmp_path).read([1, 2])


@pytest.mark.parametrize("decoder", DECODERS)
def test_video_reads_requested_frames(tmp_path, decoder):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (32, 32))
    for value in range(0, 250, 25):
        writer.write(np.full((32, 32, 3), value, np.uint8))
    writer.release()
    source = open_source(path, decoder=decoder)
    assert source.n_frames == 10
    means = np.stack(source.read([0, 5, 9])).reshape(3, -1).mean(axis=1)
    np.testing.assert_allclose(means, [0, 125, 225], atol=3)
    with pytest.raises(DecodeError, match="video holds 10"):
        source.read([10])
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(DecodeError, match="empty.avi: cannot open video"):
        open_source(tmp_path / "empty.avi", decoder=decoder)


def test_each_split_reads_the_windows_of_its_own_frame_rule():
    from pipeline.plan import recording_windows

    windows = recording_windows(list(range(300)), [("1/train", 60), ("1/dev", None), ("2_1/train", None)], 7, 4)
    per_split = {split: [w.frames[0] for w, splits in windows if split in splits]
                 for split in ("1/train", "1/dev", "2_1/train")}
    assert per_split["1/train"] == [0, 18, 35, 53] and max(w.frames[-1] for w, s in windows if "1/train" in s) < 60
    assert per_split["1/dev"] == per_split["2_1/train"] == [0, 98, 195, 293]


def test_windows_are_planned_over_the_frame_numbers_every_modality_has():
    from pipeline.datasets.records import paired_frame_numbers
    from pipeline.plan import recording_windows
    from pipeline.windows import frame_step

    numbers = {"rgb": [1, 11, 21, 31, 41, 51, 61, 71, 81, 91], "depth": [1, 11, 21, 41, 51, 61, 71, 81, 91],
               "ir": [1, 11, 21, 31, 41, 51, 61, 71, 81, 91]}  # CASIA-SURF numbering, depth lost frame 31
    paired = paired_frame_numbers(numbers)
    step = frame_step(n for values in numbers.values() for n in values)
    windows = [w for w, _ in recording_windows(paired, [("1/train", None)], 7, 4, step)]
    assert step == 10 and [w.frames for w in windows] == [(1, 11, 21, 41, 51, 61, 71), (11, 21, 41, 51, 61, 71, 81),
                                                          (21, 41, 51, 61, 71, 81, 91)]
    assert [w.gap for w in windows] == [True, True, True]  # each skips 31
    assert not recording_windows(list(range(1, 30)), [("1/train", None)], 7, 4, 1)[0][0].gap


def test_bad_shard_settings_are_refused_before_any_task():
    from pipeline.samples import SampleConfig

    with pytest.raises(ValueError, match="quantisation='min-max': expected one of"):
        SampleConfig(quantisation="min-max")
    with pytest.raises(ValueError, match="detector='mtcnn'"):
        SampleConfig(detector="mtcnn")


@pytest.mark.parametrize("placement, n_frames, length, count, starts", [
    (Placement(), 100, 7, 4, [0, 31, 62, 93]),  # spread over the whole recording
    (Placement("spread", start=6), 100, 7, 4, [6, 35, 64, 93]),
    (Placement("interval", start=6), 41, 1, 2, [6, 26]),  # SSDG: frames 6 and 6 + ⌊41 / 2⌋
    (Placement("interval", start=6), 8, 1, 2, [6]),  # 6 + 4 is past the end
    (Placement("stride", start=0, stride=5), 23, 1, 100, [0, 5, 10, 15, 20]),  # SAFAS: every 5th frame
    (Placement("stride", start=2, stride=5), 23, 1, 3, [2, 7, 12]),  # at most W
    (Placement("stride", start=30), 23, 1, 3, []),  # nothing after the start
])
def test_window_placements_match_the_conventions_they_name(placement, n_frames, length, count, starts):
    assert [int(w[0]) for w in plan_windows(n_frames, length, count, placement=placement)] == starts


def test_a_placement_outside_the_rules_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected a rule among"):
        Placement("every_other")
    from pipeline.shard import StageConfig

    with pytest.raises(UsageError, match="shard.window_placement = 'ssdg': expected one of spread, interval, stride"):
        StageConfig(root=tmp_path, manifests=tmp_path, out=tmp_path, window_placement="ssdg")
