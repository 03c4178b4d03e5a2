"""Face geometry from annotations and detectors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline import faces
from pipeline.datasets.oulu import read_eye_file
from pipeline.datasets.records import AnnotationError
from pipeline.datasets.siw import read_face_file
from pipeline.detectors import FAN_WEIGHTS, FaceAlignmentDetector, make_detector

from .black_border import window_box


def test_eye_geometry_puts_the_eyes_at_their_targets():
    # a tilted face: right eye (image left) at (100, 120), left eye at (160, 100)
    eyes = np.array([[100.0, 120.0, 160.0, 100.0], [102.0, 122.0, 162.0, 102.0]])
    geometry = faces.eye_geometry(eyes, 128)
    mean = eyes.mean(axis=0)
    for (x, y), (tx, ty) in zip([mean[0:2], mean[2:4]], faces.EYE_TARGETS):
        np.testing.assert_allclose(geometry.matrix @ [x, y, 1.0], [tx * 128, ty * 128], atol=1e-9)
    scale = math.hypot(*geometry.matrix[:, 0])
    assert scale == pytest.approx((0.36 * 128) / math.hypot(60, 20))
    with pytest.raises(ValueError, match="coincide"):
        faces.eye_geometry(np.array([[5.0, 5.0, 5.0, 5.0]]), 128)


def test_face_file_gaps_are_filled_from_the_nearest_annotated_frame(tmp_path):
    path = tmp_path / "clip.face"
    path.write_text("0 0 0 0\n10 10 50 50\n0 0 0 0\n0 0 0 0\n20 20 60 60\n0 0 0 0\n")
    boxes = read_face_file(path)
    assert np.isnan(boxes[0]).all() and boxes[1].tolist() == [10, 10, 50, 50]
    filled = faces.fill_gaps(boxes)
    assert [row[0] for row in filled] == [10, 10, 10, 20, 20, 20]  # frame 2 is nearer to 1, frame 3 to 4
    assert faces.window_box(filled[2:5]) == (10.0, 10.0, 60.0, 60.0)  # the union keeps the moving face
    path.write_text("1 2 3\n")
    with pytest.raises(AnnotationError, match=r"clip.face:1: '1 2 3': 3 values"):
        read_face_file(path)


def test_eye_file_format_and_errors(tmp_path):
    path = tmp_path / "1_1_01_1.txt"
    path.write_text("0, 139, 95, 175, 97\n1,140,95,176,97\n")
    eyes = read_eye_file(path)
    assert sorted(eyes) == [0, 1] and eyes[1].tolist() == [140, 95, 176, 97]
    path.write_text("0, 139, 95\n")
    with pytest.raises(AnnotationError, match=r"1_1_01_1.txt:1"):
        read_eye_file(path)


def test_foreground_box_and_square_padding():
    frame = np.zeros((100, 80, 3), np.uint8)
    frame[20:60, 10:40, 1] = 200  # one channel above the black level is enough
    assert faces.mask_extent(faces.foreground(frame)).box == (10.0, 20.0, 40.0, 60.0)
    assert faces.mask_extent(faces.foreground(np.full((8, 8), faces.BLACK_LEVEL, np.uint8))) is None
    geometry = faces.box_geometry((10.0, 20.0, 50.0, 70.0), 128, 0.1, "black_border")
    x1, y1, x2, y2 = geometry.box
    assert x2 - x1 == y2 - y1 == pytest.approx(60.0)  # longest side 50, padded 10 % each side
    np.testing.assert_allclose(geometry.matrix @ [30.0, 45.0, 1.0], [64.0, 64.0])  # centre to centre
    assert faces.crop([frame, frame[:50]], [geometry] * 2).shape == (2, 128, 128, 3)


def _face_crop(width: int, height: int, face: tuple[int, int, int, int], grey: bool = False) -> np.ndarray:
    """A release frame: black, with a textured face (an ellipse) at ``face`` = x1, y1, x2, y2."""
    x1, y1, x2, y2 = face
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((xx - (x1 + x2) / 2) / ((x2 - x1) / 2)) ** 2 + ((yy - (y1 + y2) / 2) / ((y2 - y1) / 2)) ** 2 <= 1
    u, v = (xx - x1) / (x2 - x1), (yy - y1) / (y2 - y1)  # a smooth pattern fixed to the face
    texture = 60 + 150 * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * u) * np.cos(2 * np.pi * 1.5 * v))
    image = np.where(inside, texture, 0).astype(np.uint8)
    return image if grey else np.repeat(image[..., None], 3, axis=2)


def test_frames_of_different_sizes_are_each_mapped_by_their_own_face_extent():
    """One still face cut out per frame with other margins (the CeFA/CASIA-SURF releases): every crop is the same."""
    cuts = [(120, 130, (10, 12, 90, 112)), (100, 104, (4, 2, 84, 102)), (130, 120, (30, 9, 110, 109))]
    clips = {"rgb": [_face_crop(w, h, face) for w, h, face in cuts],
             # the aligned stream: half the resolution, its own margins; IR dark (a screen) in one frame
             "depth": [_face_crop(60, 70, (5, 10, 45, 60), True), _face_crop(50, 60, (2, 4, 42, 54), True)],
             "ir": [_face_crop(60, 70, (5, 10, 45, 60), True), np.zeros((60, 50), np.uint8)]}
    rgb = faces.black_border_geometries({"rgb": clips["rgb"]}, [1, 2, 3], 64, 0.1)["rgb"]
    crops = faces.crop(clips["rgb"], rgb).astype(int)
    assert np.abs(crops - crops[0]).mean() < 0.5  # the face does not move in the crop (resampling noise only)
    aligned = faces.black_border_geometries({m: clips[m] for m in ("depth", "ir")}, [1, 2], 64, 0.1)
    assert aligned["depth"] is aligned["ir"]  # one grid: one extent (depth's finds the dark IR frame's face)
    depth = faces.crop(clips["depth"], aligned["depth"]).astype(int)
    assert np.abs(depth[1] - depth[0]).mean() < 0.5
    # the RGB and the depth crop of one frame show the face in the same place and at the same scale
    assert np.mean((crops[0, ..., 0] > 16) == (depth[0] > 16)) > 0.97
    with pytest.raises(faces.NoGeometry, match="rgb frame 2: no pixel brighter"):
        faces.black_border_geometries({"rgb": [clips["rgb"][0], np.zeros((9, 9, 3), np.uint8)]}, [1, 2], 64, 0.1)


def test_one_geometry_maps_to_a_registered_modality_by_the_size_ratio():
    rgb = [_face_crop(200, 160, (60, 40, 140, 120))] * 2
    ir = [_face_crop(100, 80, (30, 20, 70, 60), True)] * 2  # the same view at half the resolution
    geometry = faces.box_geometry((60.0, 40.0, 140.0, 120.0), 64, 0.1, "face_file")
    mapped = faces.map_to_modalities(geometry, {"rgb": rgb, "ir": ir}, "rgb")
    rgb_crop = faces.crop(rgb, mapped["rgb"])[0, ..., 0] > 16
    ir_crop = faces.crop(ir, mapped["ir"])[0] > 16
    assert np.mean(rgb_crop == ir_crop) > 0.97
    with pytest.raises(faces.NoGeometry, match=r"ir frame 100×100 and rgb frame 200×160 differ in aspect ratio"):
        faces.map_to_modalities(geometry, {"rgb": rgb, "ir": [np.zeros((100, 100), np.uint8)]}, "rgb")


def test_auto_detector_is_opencv_without_face_alignment_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    detector = make_detector("auto")
    assert detector.name == "opencv"
    from skimage.data import astronaut

    x1, y1, x2, y2 = detector.detect(astronaut())
    assert 150 < (x1 + x2) / 2 < 260 and 80 < (y1 + y2) / 2 < 160  # the astronaut's face
    with pytest.raises(RuntimeError, match="no download is attempted"):
        FaceAlignmentDetector()
    with pytest.raises(ValueError, match="unknown face detector"):
        make_detector("mtcnn")


@pytest.mark.slow
def test_face_alignment_backend_runs_offline_on_local_weight_files(tmp_path, monkeypatch):
    """Weights of the right shape (random values) placed where face-alignment looks: no download."""
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), checkpoints / FAN_WEIGHTS[0])
    torch.save(s3fd().state_dict(), checkpoints / FAN_WEIGHTS[1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr("socket.socket.connect", lambda *a: pytest.fail("tried to reach the network"))
    detector = make_detector("auto")
    assert detector.name == "face_alignment"
    box = detector.detect(np.full((96, 96, 3), 128, np.uint8))  # random weights: a box or none, no crash
    assert box is None or len(box) == 4


def test_strong_downscaling_is_area_averaged_not_aliased():
    noise = np.random.default_rng(0).integers(0, 256, (1, 640, 640), dtype=np.uint8)
    geometry = faces.box_geometry((0.0, 0.0, 640.0, 640.0), 128, 0.0, "detector")  # scale 0.2
    cropped = faces.crop(noise, [geometry])[0].astype(float)
    assert cropped.std() < 30  # averaging 5×5 noise pixels; bilinear sampling would keep std ≈ 74
    assert abs(cropped.mean() - noise.mean()) < 3


def _release_window(still: bool, seed: int = 0) -> tuple[dict[str, list[np.ndarray]], dict[str, list[np.ndarray]]]:
    """Seven frames of one recording, twice: cut out per frame and per stream as CeFA's release did (sizes
    vary, depth and IR at half scale), and as a clean recording (one size, one grid); both JPEG-coded."""
    import cv2

    from pipeline.demo.crops import STREAMS, _detect_and_cut, _resized
    from pipeline.demo.render import RenderSpec, render, rng_for
    from pipeline.demo.write import JPEG_PARAMS

    def jpeg(image: np.ndarray) -> np.ndarray:
        return cv2.imdecode(cv2.imencode(".jpg", image, JPEG_PARAMS)[1], cv2.IMREAD_UNCHANGED)

    shot = render(RenderSpec("1_005_1_1_1", "AF-005", "bonafide", 7, 128, 128, tone="AF", still=still), seed)
    rng = rng_for(seed, "test-release")
    release: dict[str, list[np.ndarray]] = {m: [] for m in ("rgb", "depth", "ir")}
    clean: dict[str, list[np.ndarray]] = {m: [] for m in ("rgb", "depth", "ir")}
    for t in range(7):
        for stream, modalities in STREAMS.items():
            images = [_resized(shot.frames[m][t], 1.0 if stream == "rgb" else 0.5) for m in modalities]
            for modality, cut, image in zip(modalities, _detect_and_cut(images, rng)[1], images):
                release[modality].append(jpeg(cut))
                clean[modality].append(jpeg(image))
    return release, clean


def _mean_dynamic(clips: dict[str, list[np.ndarray]], geometries: dict[str, list]) -> dict[str, float]:
    """Mean |d| of each modality's dynamic image over its face pixels, in grey levels (before quantisation)."""
    from pipeline.dynamic import dynamic_image

    values = {}
    for modality, frames in clips.items():
        crops = faces.crop(frames, geometries[modality]).astype(np.float32)
        face = crops.max(axis=0) > faces.BLACK_LEVEL
        values[modality] = float(np.abs(dynamic_image(crops))[face].mean())
    return values


def test_a_still_face_cut_out_per_frame_gives_a_near_zero_dynamic_image():
    """Frames of different sizes, each its own face crop: mapped by their own extents, a still face's dynamic
    image is as small as JPEG and sensor noise leave it on a clean recording, far below a moving face's;
    one geometry for the window (what a same-size recording gets) would turn the cuts' margins into motion."""
    def one_box(clips: dict[str, list[np.ndarray]]) -> dict[str, list]:
        return {m: [faces.box_geometry(window_box(f), 128, 0.1, "x")] * 7
                for m, f in clips.items()}

    release, clean = _release_window(still=True)
    frames = list(range(1, 8))
    ours = _mean_dynamic(release, faces.black_border_geometries(release, frames, 128, 0.1))
    floor = _mean_dynamic(clean, one_box(clean))  # the noise a clean recording's dynamic image keeps
    naive = _mean_dynamic(release, one_box(release))
    moving, _ = _release_window(still=False)
    live = _mean_dynamic(moving, faces.black_border_geometries(moving, frames, 128, 0.1))
    for modality in ("rgb", "depth", "ir"):
        assert ours[modality] <= 1.5 * floor[modality] + 1.0, (modality, ours, floor)
        assert ours[modality] < 0.35 * live[modality] and ours[modality] < 0.2 * naive[modality], (
            modality, ours, live, naive)
