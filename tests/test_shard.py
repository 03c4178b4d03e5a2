"""The shard stage end to end on tiny demo data: nothing lost, protocol-aligned, deterministic, restartable."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pipeline import faces
from pipeline.format.images import decode_image
from pipeline.format.tars import read_tar_samples
from pipeline.frames import open_source
from pipeline.samples import SampleConfig
from pipeline.shard import StageConfig, main as shard_main, run
from pipeline.verify import verify

from .black_border import window_box
from .manifests import copy_index_manifests

REPO = Path(__file__).resolve().parent.parent


def stage_config(root: Path, manifests: Path, out: Path, **overrides) -> StageConfig:
    values = dict(root=root, manifests=manifests, out=out, samples_per_shard=8, workers=0,
                  sample=SampleConfig(detector="opencv"))
    return StageConfig(**(values | overrides))


@pytest.fixture(scope="module")
def sharded(demo_manifests, tmp_path_factory):
    """``sharded(dataset)`` → (config, summary) of one in-process run per dataset."""
    made = {}

    def build(dataset: str):
        if dataset not in made:
            root, manifests = demo_manifests(dataset)
            work = tmp_path_factory.mktemp(f"shard_{dataset}")
            config = stage_config(root, copy_index_manifests(manifests, work / "manifests"), work / "shards")
            made[dataset] = (config, run(config))
        return made[dataset]

    return build


def tar_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar"))}


@pytest.mark.parametrize("dataset", ["cefa", "surf", "oulu", "siw"])
def test_every_recording_is_sharded_or_rejected_and_verify_passes(sharded, dataset):
    config, summary = sharded(dataset)
    videos = pd.read_parquet(config.manifests / "videos.parquet")
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    rejects = pd.read_parquet(config.manifests / "rejects.parquet")
    assert set(videos["video_id"]) == set(samples["video_id"]) | set(rejects["video_id"])
    assert summary.samples == len(samples) > 0 and summary.failed_shards == []
    assert verify(config.out, config.manifests) == []


@pytest.mark.parametrize("dataset", ["cefa", "siw"])
def test_each_protocol_split_is_exactly_a_union_of_whole_shards(sharded, dataset):
    config, _ = sharded(dataset)
    protocols = pd.read_parquet(config.manifests / "protocols.parquet")
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    index = json.loads((config.manifests / "splits.json").read_text())["splits"]
    shard_videos = samples.groupby("shard")["video_id"].apply(set).to_dict()
    sharded_videos = set(samples["video_id"])
    for (protocol, split), rows in protocols.groupby(["protocol", "split"]):
        entry = index[f"{protocol}/{split}"]
        members = set(rows["video_id"]) & sharded_videos
        in_shards = set().union(*(shard_videos[name.removesuffix(".tar")] for name in entry["shards"]))
        assert in_shards == members, f"{protocol}/{split}"
        assert entry["n_samples"] == samples["shard"].isin([n.removesuffix(".tar") for n in entry["shards"]]).sum()
        limit = rows["frame_limit"].dropna().unique()
        if len(limit):  # SiW P1 train: every window it reads lies in the first 60 frames
            keys = samples[samples["shard"].isin([n.removesuffix(".tar") for n in entry["shards"]])]
            assert max(max(frames) for frames in keys["frames"]) < int(limit[0])


def test_crops_have_the_configured_size_with_the_face_inside(sharded, demo_root):
    config, _ = sharded("cefa")
    _, recordings = demo_root("cefa")
    truth = {r.video_id: r for r in recordings}
    detector = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    checked = 0
    for tar in sorted(config.out.glob("*.tar")):
        for key, members in read_tar_samples(tar).items():
            meta = json.loads(members["json"])
            fmt = config.sample.image_format
            images = {ext.split(".")[0]: decode_image(data) for ext, data in members.items() if ext != "json"}
            assert set(members) - {"json"} == {f"{m}{s}.{fmt}" for m in ("rgb", "depth", "ir") for s in ("", "_di")}
            assert all(image.shape[:2] == (128, 128) for image in images.values())
            assert images["rgb"].shape == (128, 128, 3) and images["depth"].ndim == 2
            # each modality's true face box in its centre frame (its own pixel grid) lies inside that
            # modality's crop box
            centre = meta["frames"][len(meta["frames"]) // 2]
            for modality in ("rgb", "depth", "ir"):
                x1, y1, x2, y2 = truth[meta["video_id"]].boxes[modality][centre]
                bx1, by1, bx2, by2 = meta["crop"]["box"][modality]
                assert bx1 - 1 <= x1 and by1 - 1 <= y1 and x2 <= bx2 + 1 and y2 <= by2 + 1, (key, modality)
            if truth[meta["video_id"]].attack_type in ("bonafide", "print"):
                assert len(detector.detectMultiScale(cv2.cvtColor(images["rgb"], cv2.COLOR_RGB2GRAY), 1.1, 3)) >= 1, key
            checked += 1
    assert checked > 10


def face_mask(image: np.ndarray) -> np.ndarray:
    return faces.foreground(image).astype(bool)


def crop_by_stored_box(raw: list[np.ndarray], meta: dict, modality: str) -> np.ndarray:
    """The raw centre frame cropped by the box the sample's JSON stores for ``modality``."""
    return faces.crop(raw, [faces.box_geometry(tuple(meta["crop"]["box"][modality]), 128, 0.0, "black_border")])[0]


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def clean_recording_ious() -> list[float]:
    """RGB-depth face-mask overlaps on clean recordings: depth registered to RGB at half its resolution (as
    RealSense's 640×480 beside 1280×720), one geometry per window mapped by the size ratio. Mask edges at
    half resolution are softer, so even these overlaps are below 1."""
    from pipeline.demo.crops import _resized
    from pipeline.demo.render import RenderSpec, render

    overlaps = []
    for tone, kind in (("AF", "bonafide"), ("CA", "bonafide"), ("EA", "print"), ("AF", "mask3d")):
        shot = render(RenderSpec("2_320_1_1_1", "CA-320", kind, 7, 72, 72, tone=tone), 0)
        clips = {"rgb": shot.frames["rgb"], "depth": [_resized(f, 0.5) for f in shot.frames["depth"]]}
        box = window_box(clips["rgb"])
        mapped = faces.map_to_modalities(faces.box_geometry(box, 128, 0.1, "black_border"), clips, "rgb")
        rgb, depth = (faces.crop(clips[m], mapped[m])[3] for m in ("rgb", "depth"))
        overlaps.append(mask_iou(face_mask(rgb), face_mask(depth)))
    return overlaps


def test_each_modality_is_cropped_in_its_own_pixel_grid_and_aligned_by_content(sharded):
    """Release frames: RGB and depth/IR crops of one frame are different images at different scales. Each
    stored crop is that modality's frame mapped by its own box, and the face masks of a sample's RGB and
    depth crops overlap as much as on a clean recording; the RGB box on the depth frame would not."""
    config, _ = sharded("cefa")
    videos = pd.read_parquet(config.manifests / "videos.parquet").set_index("video_id")
    clean, overlaps, rgb_box_on_depth = clean_recording_ious(), [], []
    for tar in sorted(config.out.glob("*.tar"))[::2]:
        for key, members in sorted(read_tar_samples(tar).items())[:1]:
            meta = json.loads(members["json"])
            centre = meta["frames"][len(meta["frames"]) // 2]
            crops = {}
            for modality in ("rgb", "depth", "ir"):
                path = config.root / videos.loc[meta["video_id"], f"path_{modality}"]
                raw = open_source(path, grey=modality != "rgb").read([centre])
                expected = crop_by_stored_box(raw, meta, modality)
                crops[modality] = decode_image(members[f"{modality}.{config.sample.image_format}"])
                assert np.abs(crops[modality].astype(int) - expected.astype(int)).max() <= 1, (key, modality)
                if modality == "depth":
                    wrong = faces.box_geometry(tuple(meta["crop"]["box"]["rgb"]), 128, 0.0, "black_border")
                    rgb_box_on_depth.append(mask_iou(face_mask(crops["rgb"]), face_mask(faces.crop(raw, [wrong])[0])))
            overlaps.append(mask_iou(face_mask(crops["rgb"]), face_mask(crops["depth"])))
    assert len(overlaps) >= 8, overlaps
    assert np.mean(overlaps) >= np.mean(clean) - 0.03 and min(overlaps) >= min(clean) - 0.12, (overlaps, clean)
    assert max(rgb_box_on_depth) < 0.6, rgb_box_on_depth


def test_two_runs_give_byte_identical_shards(sharded, demo_manifests, tmp_path):
    config, _ = sharded("oulu")
    root, manifests = demo_manifests("oulu")
    again = stage_config(root, copy_index_manifests(manifests, tmp_path / "m"), tmp_path / "s")
    run(again)
    assert tar_bytes(again.out) == tar_bytes(config.out)
    for name in ("samples.parquet", "shards.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(again.manifests / name), pd.read_parquet(config.manifests / name))


def test_rerun_reuses_finished_shards(sharded):
    config, first = sharded("surf")
    before = {p.name: p.stat().st_mtime_ns for p in config.out.glob("*.tar")}
    summary = run(config)
    assert summary.reused == first.shards and summary.samples == first.samples
    assert {p.name: p.stat().st_mtime_ns for p in config.out.glob("*.tar")} == before


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(sharded, demo_manifests, tmp_path):
    reference, _ = sharded("cefa")
    root, manifests = demo_manifests("cefa")
    config = stage_config(root, copy_index_manifests(manifests, tmp_path / "m"), tmp_path / "s")
    command = [sys.executable, "-m", "pipeline.shard", "--dataset", "cefa", "--root", str(root),
               "--manifests", str(config.manifests), "--out", str(config.out), "--workers", "0",
               "--params", str(_params(tmp_path))]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list(config.out.glob("*.tar"))) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = len(list(config.out.glob("*.tar")))
    assert 0 < partial < len(tar_bytes(reference.out))
    # a tar killed between its rename and its part file is complete but unvouched for: redone
    vouched = sum((config.out / "_parts" / f"{tar.stem}.json").is_file() for tar in config.out.glob("*.tar"))
    summary = run(config)
    assert summary.reused == vouched >= partial - 1
    assert tar_bytes(config.out) == tar_bytes(reference.out)
    assert not list(config.out.glob(".*tmp*"))


def _params(folder: Path) -> Path:
    """params.yaml for the subprocess: the repository's, with the test's shard size and detector."""
    import yaml

    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["shard"] |= {"samples_per_shard": 8, "detector": "opencv", "image_format": SampleConfig().image_format}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_local_cluster_and_external_scheduler_give_the_same_shards(sharded, demo_manifests, tmp_path):
    reference, _ = sharded("surf")
    root, manifests = demo_manifests("surf")
    local = stage_config(root, copy_index_manifests(manifests, tmp_path / "lm"), tmp_path / "ls", workers=2)
    run(local)
    assert tar_bytes(local.out) == tar_bytes(reference.out)

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = os.environ | {"PYTHONPATH": str(REPO)}
    bin_dir = Path(sys.executable).parent
    processes = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], env=env, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            processes.append(subprocess.Popen([str(bin_dir / "dask"), "worker", address, "--nthreads", "1",
                                               "--no-dashboard", "--host", "127.0.0.1"],
                                              env=env, stderr=subprocess.DEVNULL))
        _wait_for_workers(address, 2)
        remote_manifests = copy_index_manifests(manifests, tmp_path / "rm")
        status = shard_main(["--dataset", "surf", "--root", str(root), "--manifests", str(remote_manifests),
                             "--out", str(tmp_path / "rs"), "--scheduler", address, "--params", str(_params(tmp_path))])
        assert status == 0
        assert tar_bytes(tmp_path / "rs") == tar_bytes(reference.out)
    finally:
        for process in processes[::-1]:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _wait_for_workers(address: str, count: int) -> None:
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=60)


def test_a_frame_missing_from_one_modality_is_paired_out_not_shifted(demo_root, tmp_path):
    """Depth frame 0004 gone: no window reads frame 4, and every later window pairs each RGB frame with the
    depth frame of the same number (the stored depth crop is that file's), never the next one."""
    source, _ = demo_root("cefa")
    raw = tmp_path / "raw"
    shutil.copytree(source, raw)
    recording = next(r for r in sorted((raw / "CASIA_CeFA/Ethnicity/AF").glob("*/*_1_1_1"))
                     if {p.name for p in (r / "color").iterdir()} == {p.name for p in (r / "depth").iterdir()})
    (recording / "depth" / "0004.jpg").unlink()
    from pipeline.index import build_index, write_index

    write_index(build_index("cefa", raw), tmp_path / "m", "cefa", ["test"])
    config = stage_config(raw, tmp_path / "m", tmp_path / "s")
    run(config)
    videos = pd.read_parquet(config.manifests / "videos.parquet").set_index("video_id")
    assert list(videos.loc[recording.name, "missing_frames_depth"]) == [4]
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    rows = samples[samples["video_id"] == recording.name]
    assert len(rows) > 0 and not any(4 in frames for frames in rows["frames"])
    assert rows["frame_gap"].any()  # a window of 7 paired frames around 4 skips it, and says so
    for row in rows.itertuples():
        members = read_tar_samples(config.out / f"{row.shard}.tar")[row.key]
        meta = json.loads(members["json"])
        centre = meta["frames"][len(meta["frames"]) // 2]
        depth = open_source(recording / "depth", grey=True).read([centre])
        stored = decode_image(members[f"depth.{config.sample.image_format}"]).astype(int)
        assert np.abs(stored - crop_by_stored_box(depth, meta, "depth").astype(int)).max() <= 1, row.key


def test_verify_names_the_shard_and_sample_of_every_mismatch(sharded, tmp_path):
    config, _ = sharded("surf")
    shards = tmp_path / "shards"
    shutil.copytree(config.out, shards)
    tars = sorted(shards.glob("*.tar"))
    assert verify(shards, config.manifests) == []
    data = bytearray(tars[0].read_bytes())
    data[2048] ^= 0xFF  # inside the first member's payload
    tars[0].write_bytes(bytes(data))
    tars[-1].unlink()
    problems = verify(shards, config.manifests)
    first_key = sorted(read_tar_samples(config.out / tars[0].name))[0]
    assert any(p.startswith(f"{tars[0].name}: sample {first_key}") for p in problems), problems
    assert f"{tars[-1].name}: missing" in problems


def test_a_corrupt_frame_costs_only_the_windows_that_read_it(demo_root, tmp_path):
    source, _ = demo_root("cefa")
    raw = tmp_path / "raw"
    shutil.copytree(source, raw)
    recording = sorted((raw / "CASIA_CeFA/Ethnicity/AF").glob("*/*_1_1_1"))[0]
    frames = sorted((recording / "color").iterdir())
    frames[-1].write_bytes(b"\xff\xd8 truncated download")  # only the last window reads the last frame
    from pipeline.index import build_index, write_index

    write_index(build_index("cefa", raw), tmp_path / "m", "cefa", ["test"])
    config = stage_config(raw, tmp_path / "m", tmp_path / "s")
    run(config)
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    rejects = pd.read_parquet(config.manifests / "rejects.parquet")
    kept = samples[samples["video_id"] == recording.name]
    dropped = rejects[rejects["video_id"] == recording.name]
    assert len(kept) >= 1 and all(int(frames[-1].stem) not in f for f in kept["frames"])
    assert list(dropped["reason"]) == ["decode_error"] and dropped["window"].notna().all()
    assert frames[-1].name in dropped["detail"].iloc[0] and "not a readable image" in dropped["detail"].iloc[0]
    assert verify(config.out, config.manifests) == []


def test_a_repaired_frame_is_read_again_on_the_next_run(demo_root, tmp_path):
    """Reuse is vouched for by the raw files too: a fixed file redoes its shard, and only that one."""
    source, _ = demo_root("cefa")
    raw = tmp_path / "raw"
    shutil.copytree(source, raw)
    recording = sorted((raw / "CASIA_CeFA/Ethnicity/AF").glob("*/*_1_1_1"))[0]
    frame = sorted((recording / "color").iterdir())[-1]
    good = frame.read_bytes()
    frame.write_bytes(b"\xff\xd8 truncated download")
    from pipeline.index import build_index, write_index

    write_index(build_index("cefa", raw), tmp_path / "m", "cefa", ["test"])
    config = stage_config(raw, tmp_path / "m", tmp_path / "s")
    first = run(config)
    assert recording.name in set(pd.read_parquet(config.manifests / "rejects.parquet")["video_id"])
    frame.write_bytes(good)
    os.utime(frame, ns=(frame.stat().st_atime_ns, frame.stat().st_mtime_ns + 10**9))  # coarse clocks
    second = run(config)
    assert second.reused == first.shards - 1
    assert recording.name not in set(pd.read_parquet(config.manifests / "rejects.parquet")["video_id"])
    assert second.samples == first.samples + 1 and verify(config.out, config.manifests) == []


def test_bad_data_becomes_a_reject_but_a_bug_fails_its_shard(demo_manifests, tmp_path, monkeypatch):
    """A ValueError raised by our own code is a bug, not a property of the recording: the shard fails (and
    is retried or reported); only BadData (an unreadable file, no face) is filed as a reject."""
    from pipeline import shard_task
    from pipeline.frames import DecodeError

    root, manifests = demo_manifests("surf")

    def broken(task, root, config):
        raise ValueError("a bug")

    monkeypatch.setattr(shard_task, "recording_samples", broken)
    summary = run(stage_config(root, copy_index_manifests(manifests, tmp_path / "m1"), tmp_path / "s1"))
    assert summary.failed_shards and summary.samples == 0
    assert set(pd.read_parquet(tmp_path / "m1" / "rejects.parquet")["reason"]) == {"task_failed"}

    def unreadable(task, root, config):
        raise DecodeError(root / "x.jpg", "not a readable image")

    monkeypatch.setattr(shard_task, "recording_samples", unreadable)
    summary = run(stage_config(root, copy_index_manifests(manifests, tmp_path / "m2"), tmp_path / "s2"))
    assert not summary.failed_shards
    assert set(pd.read_parquet(tmp_path / "m2" / "rejects.parquet")["reason"]) == {"decode_error"}


def test_strict_turns_rejects_into_a_failing_exit(demo_root, tmp_path):
    source, _ = demo_root("surf")
    raw = tmp_path / "raw"
    shutil.copytree(source, raw)
    frame = sorted(raw.glob("CASIA_SURF/Data/Training/real_part/*/real.rssdk/depth/*.jpg"))[-1]
    frame.write_bytes(b"")  # a zero-byte frame
    from pipeline.index import main as index_main

    assert index_main(["--dataset", "surf", "--root", str(raw), "--out", str(tmp_path / "m"), "--strict"]) == 0
    base = ["--dataset", "surf", "--root", str(raw), "--manifests", str(tmp_path / "m"), "--out", str(tmp_path / "s"),
            "--workers", "0", "--params", str(_params(tmp_path))]
    assert shard_main(base) == 0
    assert shard_main(base + ["--strict"]) == 1
    (raw / "CASIA_SURF/Data/Training/real_part/notes.txt").write_text("stray")
    assert index_main(["--dataset", "surf", "--root", str(raw), "--out", str(tmp_path / "m2"), "--strict"]) == 1
