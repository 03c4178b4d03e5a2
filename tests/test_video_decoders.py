"""The video decoders behind one interface (pipeline.video): PyAV and decord read the same frames, frame-accurately
on long-GOP H.264 with B-frames, upright whatever the display rotation, never past the frames a file holds, and
never longer than decode_timeout. decord is skipped where it is not installed (it has no ARM wheels), PyAV never."""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pipeline import faces
from pipeline.datasets.probe import video_frame_count
from pipeline.demo.render import RenderSpec, render
from pipeline.demo.video import ffmpeg_executable, write_h264
from pipeline.errors import UsageError
from pipeline.frames import DecodeError, DecodeTimeout, open_source
from pipeline.plan import recording_windows, source_paths
from pipeline.video import resolve_decoder

from .bad_inputs import lying_frame_count
from .commands import run
from .manifests import copy_index_manifests
from .videos import DECODERS, frame_types, header_frame_count, needs_decord


@pytest.fixture(scope="module")
def long_gop(tmp_path_factory):
    """A scene of 60 frames, each with a stripe on a black band that says which frame it is, as long-GOP H.264 with
    B-frames (what phones record) and as a lossless intra-only copy; (render, frames, long-GOP file, intra file)."""
    folder = tmp_path_factory.mktemp("long_gop")
    shot = render(RenderSpec("1_1_01_1", "oulu-01", "bonafide", 60, 320, 240, scene=True), 0)
    frames = [frame.copy() for frame in shot.frames["rgb"]]
    for number, frame in enumerate(frames):
        frame[0:12] = 0
        frame[0:12, 5 * number:5 * number + 5] = 255  # where this stripe is on the black band says which frame
    long_gop, intra = folder / "long.mov", folder / "intra.mov"
    write_h264(frames, long_gop)
    write_h264(frames, intra, gop=1, b_frames=0, lossless=True)
    return shot, frames, long_gop, intra


@pytest.mark.parametrize("decoder", DECODERS)
def test_long_gop_h264_with_b_frames_is_read_frame_accurately(long_gop, decoder):
    """Windows read in any order from a long-GOP H.264 file with B-frames are the frames a front-to-back decode
    gives, and their crops agree with an intra-only copy of the same frames: a decoder that returned a neighbour
    would show the frame-number stripe in the wrong place."""
    shot, _, path, intra = long_gop
    types = frame_types(path)
    assert len(types) == 60 and "B" in types and types.count("I") <= 2, types
    sequential = open_source(path, decoder=decoder).read(list(range(60)))  # front to back: no seeking
    geometry = faces.box_geometry(tuple(map(float, shot.face_boxes[30])), 128, 0.3, "face_file")
    windows = [w.frames for w, _ in recording_windows(list(range(60)), [("1/test", None)], 7, 4)]
    reader, copy = open_source(path, decoder=decoder), open_source(intra, decoder=decoder)

    def intra_crops(numbers) -> np.ndarray:
        return faces.crop(copy.read(list(numbers)), [geometry] * 7).astype(int)

    for frames_read in windows[::-1] + windows[1::2]:  # backwards, then skipping: seeks both ways
        window = reader.read(list(frames_read))
        assert all(np.array_equal(a, sequential[n]) for a, n in zip(window, frames_read)), frames_read
        crops = faces.crop(window, [geometry] * 7).astype(int)
        neighbours = [n - 1 if frames_read[0] > 0 else n + 1 for n in frames_read]
        same, shifted = (np.abs(crops - intra_crops(numbers)).mean() for numbers in (frames_read, neighbours))
        assert same < 0.8 * shifted, (frames_read, same, shifted)  # compression noise, not another frame
        for frame, number in zip(window, frames_read):
            stripe = frame[2:10].max(axis=(0, 2))  # bright where the frame-number stripe is
            assert stripe[5 * number + 2] > 200 and stripe[(5 * number + 152) % 300] < 200, number


def mjpeg(frames: list[np.ndarray], path: Path) -> Path:
    """Motion-JPEG through OpenCV, as CASIA-FASD's and OULU-NPU's .avi and Replay-Attack's .mov are stored."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@needs_decord
@pytest.mark.parametrize("container", ["h264.mov", "mjpeg.avi", "mjpeg.mov"])
def test_both_decoders_give_one_window_the_same_crops(long_gop, tmp_path, container):
    """Identical, measured on every file here (H.264 and Motion-JPEG; the tolerance of one grey level is for the
    YUV to RGB conversion only): both run FFmpeg's bit-exact decoders (decord a bundled FFmpeg 4, PyAV its own
    newer one) and FFmpeg's swscale to convert, which could round differently in another release."""
    shot, frames, path, _ = long_gop
    if container != "h264.mov":
        path = mjpeg(frames, tmp_path / container.replace("mjpeg", "clip"))
    window = list(range(40, 47))
    geometry = faces.box_geometry(tuple(map(float, shot.face_boxes[43])), 128, 0.3, "face_file")
    crops = {decoder: faces.crop(open_source(path, decoder=decoder).read(window), [geometry] * 7).astype(int)
             for decoder in ("pyav", "decord")}
    assert np.abs(crops["pyav"] - crops["decord"]).max() <= 1
    for grey in (False, True):  # grey is the mean of RGB in both, so it agrees as well
        first = [open_source(path, grey, decoder).read([0])[0].astype(int) for decoder in ("pyav", "decord")]
        assert first[0].shape == first[1].shape and np.abs(first[0] - first[1]).max() <= 1


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    """A phone-like MP4 (H.264, lossless so turned frames compare exactly) stored landscape, and copies whose
    display matrix says to show it turned 90°, 180° and 270° counter-clockwise (ffmpeg's -display_rotation)."""
    folder = tmp_path_factory.mktemp("rotated")
    frames = []
    for number in range(12):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:16, :32] = (255, 0, 0)  # top left red, bottom right green: every turn looks different
        frame[-8:, -8:] = (0, 255, 0)
        frame[20:30, 30:34] = 20 * number
        frames.append(frame)
    plain = folder / "plain.mp4"
    write_h264(frames, plain, lossless=True)
    copies = {}
    for degrees in (90, 180, 270):
        copies[degrees] = folder / f"turned{degrees}.mp4"
        subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-display_rotation", str(degrees), "-i",
                        str(plain), "-c", "copy", str(copies[degrees])], check=True, timeout=60)
    return plain, copies


@pytest.mark.parametrize("degrees", [90, 180, 270])
@pytest.mark.parametrize("decoder", DECODERS)
def test_display_rotation_comes_out_upright(rotated, decoder, degrees):
    """PyAV does not apply the rotation itself: the reader does; decord applies 180° itself and hands 90° and
    270° to PyAV (it mis-sizes them). Upright means as OpenCV (and a video player) shows the file."""
    plain, copies = rotated
    stored = np.stack(open_source(plain, decoder=decoder).read([0, 7]))
    shown = np.stack(open_source(copies[degrees], decoder=decoder).read([0, 7]))
    np.testing.assert_array_equal(shown, np.rot90(stored, degrees // 90, axes=(1, 2)))
    capture = cv2.VideoCapture(str(copies[degrees]))
    ok, first = capture.read()
    capture.release()
    assert ok and np.array_equal(shown[0], cv2.cvtColor(first, cv2.COLOR_BGR2RGB))


@pytest.fixture(scope="module")
def overstated(long_gop, tmp_path_factory):
    """Files whose header claims more frames than they hold: an AVI whose frame counts say four times as many (a
    capture stopped early), and a long-GOP MP4 with its index up front cut at 60 % (a download that stopped)."""
    folder = tmp_path_factory.mktemp("overstated")
    _, frames, path, _ = long_gop
    mjpeg(frames[:20], folder / "claims_80.avi")
    lying_frame_count(folder, pd.Series({"path_rgb": "claims_80.avi"}))
    whole = folder / "whole.mp4"
    subprocess.run([ffmpeg_executable(), "-y", "-loglevel", "error", "-i", str(path), "-c", "copy", "-movflags",
                    "+faststart", str(whole)], check=True, timeout=60)
    data = whole.read_bytes()
    (folder / "cut.mp4").write_bytes(data[:len(data) * 6 // 10])
    return folder / "claims_80.avi", folder / "cut.mp4"


@pytest.mark.parametrize("decoder", DECODERS)
def test_the_frame_count_is_what_the_file_holds_not_what_its_header_claims(overstated, decoder):
    for path in overstated:
        held = video_frame_count(path)  # what the index records
        assert 0 < held < header_frame_count(path), path
        if decoder == "decord" and path.suffix == ".mp4":  # decord cannot index an MP4 cut inside a frame
            with pytest.raises(DecodeError, match=r"cut\.mp4: cannot open video"):
                open_source(path, decoder=decoder)
            continue
        reader = open_source(path, decoder=decoder)
        assert reader.n_frames == held and len(reader.read(list(range(held)))) == held
        with pytest.raises(DecodeError, match=rf"video holds {held}") as refused:
            reader.read([held - 1, held])  # past the end: refused before the decoder sees it (decord#373)
        assert refused.value.reason == "past_end"


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_frame_count_that_overstates_costs_only_the_windows_past_the_end(demo_manifests, tmp_path, decoder):
    """A manifest that promises more frames than the file holds (an index made before the file was cut, or by a
    tool that read the header): the windows past the real end are past_end rejects, the others samples; the
    command ends (a subprocess with a time limit: a hung decoder would fail the test, not stall it)."""
    source, manifests = demo_manifests("oulu")
    videos = pd.read_parquet(manifests / "videos.parquet").sort_values("video_id").head(2)
    victim = videos.iloc[0]
    root, folder = tmp_path / "raw", copy_index_manifests(manifests, tmp_path / "m")
    for path in [path for video in videos.to_dict("records") for path in source_paths(video)]:  # + eye positions
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes((source / path).read_bytes())
    lying_frame_count(root, victim)
    claimed = header_frame_count(root / victim["path_rgb"])
    videos.loc[videos.index[0], ["n_frames_rgb", "n_frames_paired"]] = claimed  # what OpenCV's header count gave
    videos.at[videos.index[0], "frame_numbers_rgb"] = list(range(claimed))
    videos.to_parquet(folder / "videos.parquet")
    protocols = pd.read_parquet(folder / "protocols.parquet")
    protocols[protocols["video_id"].isin(videos["video_id"])].to_parquet(folder / "protocols.parquet")
    done = run(["pipeline.shard", "--dataset", "oulu", "--root", str(root), "--manifests", str(folder), "--out",
                str(tmp_path / "s"), "--workers", "0", "--decoder", decoder, "-q"], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    held = int(victim["n_frames_rgb"])
    rejects = pd.read_parquet(folder / "rejects.parquet")
    samples = pd.read_parquet(folder / "samples.parquet")
    kept = samples[samples["video_id"] == victim["video_id"]]
    assert len(kept) >= 1 and all(max(frames) < held for frames in kept["frames"])
    lost = rejects[rejects["video_id"] == victim["video_id"]]
    assert len(lost) >= 1 and set(lost["reason"]) == {"past_end"} and len(kept) + len(lost) == 4
    assert all(f"video holds {held}" in detail for detail in lost["detail"])
    assert set(rejects["video_id"]) == {victim["video_id"]}  # the other recording lost nothing


@needs_decord
def test_a_decoder_that_stops_answering_costs_its_recording_and_is_replaced(demo_manifests, tmp_path):
    """decord's known hangs spin in native code, out of reach of anything in its process: its child process is
    killed at decode_timeout (here one that never answers: stopped), the recording rejected, the next read served
    by a new child."""
    from pipeline.samples import SampleConfig
    from pipeline.shard import StageConfig, run as shard
    from pipeline.video.child import CHILD

    root, manifests = demo_manifests("oulu")
    videos = pd.read_parquet(manifests / "videos.parquet").sort_values("video_id").head(3)
    folder = copy_index_manifests(manifests, tmp_path / "m")
    videos.to_parquet(folder / "videos.parquet")
    open_source(root / videos["path_rgb"].iloc[0], decoder="decord")  # the child is running
    stuck = CHILD.pid
    os.kill(stuck, signal.SIGSTOP)
    config = StageConfig(root=root, manifests=folder, out=tmp_path / "s", workers=0,
                         sample=SampleConfig(detector="opencv", decoder="decord", decode_timeout=1))
    summary = shard(config)
    rejects = pd.read_parquet(folder / "rejects.parquet")
    first = videos["video_id"].iloc[0]
    timed_out = rejects[rejects["reason"] == "decode_timeout"]
    assert list(timed_out["video_id"]) == [first] and "decord took over 1.0 s" in timed_out["detail"].iloc[0]
    assert CHILD.pid != stuck and summary.rejects_by_reason == {"decode_timeout": 1}
    assert set(pd.read_parquet(folder / "samples.parquet")["video_id"]) == set(videos["video_id"][1:])
    with pytest.raises(ProcessLookupError):
        os.kill(stuck, 0)  # killed and reaped


def test_pyav_stops_at_its_deadline(long_gop):
    _, _, path, _ = long_gop
    with pytest.raises(DecodeTimeout, match=r"long\.mov: .*took over 1e-05 s"):
        open_source(path, decoder="pyav", timeout=1e-5).read(list(range(60)))
    assert len(open_source(path, decoder="pyav", timeout=60).read([59])) == 1


def test_decoders_are_chosen_by_name(monkeypatch):
    assert resolve_decoder("auto") == "pyav" and resolve_decoder("pyav") == "pyav"
    with pytest.raises(UsageError, match="decoder 'ffmpeg': expected one of auto, pyav, decord"):
        resolve_decoder("ffmpeg")
    monkeypatch.setattr("pipeline.video.installed", lambda backend: backend == "pyav")  # a Mac, an ARM node
    with pytest.raises(UsageError, match="decoder decord: decord is not installed .*x86-64 only; use decoder pyav"):
        resolve_decoder("decord")
    monkeypatch.setattr("pipeline.video.installed", lambda backend: backend == "decord")  # PyAV missing
    assert resolve_decoder("auto") == "decord"
