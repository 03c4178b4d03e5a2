"""Face geometry from annotations and detectors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline import faces
from pipeline.detectors import FAN_WEIGHTS, FaceAlignmentDetector, make_detector


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
    boxes = faces.read_face_file(path)
    assert np.isnan(boxes[0]).all() and boxes[1].tolist() == [10, 10, 50, 50]
    filled = faces.fill_gaps(boxes)
    assert [row[0] for row in filled] == [10, 10, 10, 20, 20, 20]  # frame 2 is nearer to 1, frame 3 to 4
    assert faces.window_box(filled[2:5]) == (10.0, 10.0, 60.0, 60.0)  # the union keeps the moving face
    path.write_text("1 2 3\n")
    with pytest.raises(faces.AnnotationError, match=r"clip.face:1: '1 2 3': 3 values"):
        faces.read_face_file(path)


def test_eye_file_format_and_errors(tmp_path):
    path = tmp_path / "1_1_01_1.txt"
    path.write_text("0, 139, 95, 175, 97\n1,140,95,176,97\n")
    eyes = faces.read_eye_file(path)
    assert sorted(eyes) == [0, 1] and eyes[1].tolist() == [140, 95, 176, 97]
    path.write_text("0, 139, 95\n")
    with pytest.raises(faces.AnnotationError, match=r"1_1_01_1.txt:1"):
        faces.read_eye_file(path)


def test_black_border_box_and_square_padding():
    frames = np.zeros((3, 100, 80, 3), np.uint8)
    frames[0, 20:60, 10:40] = 200
    frames[2, 30:70, 20:50] = 90  # the face moves: the box covers every frame of the window
    assert faces.black_border_box(frames) == (10.0, 20.0, 50.0, 70.0)
    assert faces.black_border_box(np.full((2, 8, 8, 3), faces.BLACK_LEVEL, np.uint8)) is None
    geometry = faces.box_geometry((10.0, 20.0, 50.0, 70.0), 128, 0.1, "black_border")
    x1, y1, x2, y2 = geometry.box
    assert x2 - x1 == y2 - y1 == pytest.approx(60.0)  # longest side 50, padded 10 % each side
    np.testing.assert_allclose(geometry.matrix @ [30.0, 45.0, 1.0], [64.0, 64.0])  # centre to centre
    crop = faces.crop(frames, geometry)
    assert crop.shape == (3, 128, 128, 3)


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
    cropped = faces.crop(noise, geometry)[0].astype(float)
    assert cropped.std() < 30  # averaging 5×5 noise pixels; bilinear sampling would keep std ≈ 74
    assert abs(cropped.mean() - noise.mean()) < 3
