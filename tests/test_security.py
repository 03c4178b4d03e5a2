"""Hostile inputs: code that would run on load, paths that leave their folder, shell strings.

Pickle members in shards and pickled checkpoints are tested where they are read (test_loader.py,
test_training.py); shard members with ``..`` or absolute names in test_integrity.py. This module
checks our own source for the calls that would open those doors, and the list readers' paths.
"""
from __future__ import annotations

import ast
import io
from pathlib import Path

import numpy as np
import pytest

from pipeline.datasets import get_adapter
from pipeline.datasets.listfiles import ListFormatError

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for folder in ("pipeline", "training", "benchmarks") for p in (REPO / folder).rglob("*.py"))


def calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            # "" for a bare call such as eval(…); "?" for a method of something that is not a plain name
            owner = getattr(node.func.value, "id", "?") if isinstance(node.func, ast.Attribute) else ""
            keywords = {k.arg: k.value for k in node.keywords}
            label = path.relative_to(REPO) if path.is_relative_to(REPO) else path
            yield f"{label}:{node.lineno}", owner, name, keywords


def is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def test_the_source_tree_is_scanned():
    assert len(SOURCES) > 30 and any(p.name == "verify.py" for p in SOURCES)


def offences(path: Path) -> list[str]:
    found = []
    for where, owner, name, keywords in calls(path):
        if owner == "yaml" and name in ("load", "load_all", "unsafe_load", "full_load"):
            found.append(f"{where}: yaml.{name} (use yaml.safe_load)")
        if "shell" in keywords and not (isinstance(keywords["shell"], ast.Constant)
                                        and keywords["shell"].value is False):
            found.append(f"{where}: {name}(shell=...)")
        if owner == "torch" and name == "load" and not is_true(keywords.get("weights_only")):
            found.append(f"{where}: torch.load without weights_only=True")
        if owner in ("pickle", "dill", "cloudpickle") and name in ("load", "loads"):
            found.append(f"{where}: {owner}.{name}")
        if name in ("extractall", "extract"):
            found.append(f"{where}: tar {name} (read members in memory instead)")
        if owner == "np" and name == "load" and not (isinstance(keywords.get("allow_pickle"), ast.Constant)
                                                    and keywords["allow_pickle"].value is False):
            found.append(f"{where}: np.load without allow_pickle=False")
        if name in ("eval", "exec") and owner == "":
            found.append(f"{where}: {name}")
    return found


def test_no_unsafe_loaders_shells_or_extraction_in_our_code():
    assert [offence for path in SOURCES for offence in offences(path)] == []


def test_the_scanner_catches_what_it_looks_for(tmp_path):
    """The check above must be able to fail: run it on a file that does everything wrong."""
    bad = tmp_path / "unsafe.py"
    bad.write_text("import yaml, torch, subprocess, tarfile, pickle, numpy as np\n"
                   "yaml.load(s)\ntorch.load(p)\nsubprocess.run(c, shell=True)\ntarfile.open(p).extractall()\n"
                   "pickle.loads(b)\nnp.load(f)\neval(t)\ntorch.load(p, weights_only=True)\n"
                   "np.load(f, allow_pickle=False)\n")
    assert [o.split(": ", 1)[0].rsplit(":", 1)[1] for o in offences(bad)] == ["2", "3", "4", "5", "6", "7", "8"]


@pytest.mark.parametrize("line", ["../../etc/passwd 1", "/etc/shadow 1", "CASIA_CeFA/../../secret/color 0"])
def test_list_files_naming_paths_outside_the_dataset_are_refused(tmp_path, line):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "CASIA_CeFA@p4.1_video_train.txt").write_text(
        f"CASIA_CeFA/Ethnicity/AF/AF-120/1_120_1_1_1/color 1\n{line}\n")
    with pytest.raises(ListFormatError, match=r"_video_train\.txt:2: .*points outside the dataset root"):
        get_adapter("cefa").read_lists(lists)


@pytest.mark.parametrize("image_format", ["png", "jpg", "npy"])
def test_every_stored_format_decodes_back_to_the_image(image_format):
    from pipeline.format.images import decode_image, encode_image

    rng = np.random.default_rng(1)
    for image in (rng.integers(0, 256, (16, 16, 3), np.uint8), rng.integers(0, 256, (16, 16), np.uint8)):
        decoded = decode_image(encode_image(image, image_format))
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        if image_format != "jpg":  # lossless
            assert np.array_equal(decoded, image)


def test_an_npy_member_holding_a_pickle_is_refused_not_loaded(tmp_path):
    from pipeline.format.images import decode_image
    from pipeline.verify import member_problem

    class Boom:
        def __reduce__(self):
            return (Path(tmp_path / "pwned").touch, ())

    buffer = io.BytesIO()
    np.save(buffer, np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="Python objects: refused"):
        decode_image(buffer.getvalue())
    assert "Python objects: refused" in member_problem("rgb.npy", buffer.getvalue())
    floats = io.BytesIO()
    np.save(floats, np.zeros((4, 4), np.float32))
    assert "is not a uint8 image" in member_problem("rgb.npy", floats.getvalue())
    assert not (tmp_path / "pwned").exists()


def test_the_report_never_reads_a_manifest_path_outside_the_raw_root(tmp_path):
    import cv2
    import pandas as pd

    from pipeline.report.data import first_frames

    outside = tmp_path / "outside" / "color"
    outside.mkdir(parents=True)
    cv2.imwrite(str(outside / "0001.jpg"), np.full((8, 8, 3), 200, np.uint8))
    (tmp_path / "root").mkdir()
    inside = first_frames(tmp_path, pd.Series({"video_id": "v", "path_rgb": "outside/color", "frame_numbers_rgb": [1]}))
    assert inside[0][1] is not None  # the same frame, inside the root, is read
    escaped = first_frames(tmp_path / "root", pd.Series({"video_id": "v", "path_rgb": "../outside/color",
                                                         "frame_numbers_rgb": [1]}))
    assert escaped == [("rgb", None)]
