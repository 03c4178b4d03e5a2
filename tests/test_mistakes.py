"""A user's mistakes, made as a user makes them (the command line, in a shell): each ends promptly, with a
non-zero exit, no traceback, and a last line that names the thing and says what to do next."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .commands import assert_refused, on_shards, params_with, run


def checkpoint_of(path: Path, protocol: str) -> Path:
    """A checkpoint of a CeFA ``protocol`` run holding only what evaluate reads before it refuses or scores."""
    path.parent.mkdir(parents=True)
    torch.save({"config": {"dataset": "cefa", "protocol": protocol}, "model": {}}, path)
    return path


def test_training_mistakes(cefa_shards, tmp_path):
    train = on_shards("training.train", cefa_shards)
    assert_refused(run([*train, "--protocol", "9@9"]), "no shards for protocol '9@9'", "4_1 (4@1, p4.1)")
    assert_refused(run(["training.train", "--dataset", "cefa", "--protocol", "4@1", "--manifests", str(tmp_path)]),
                   f"{tmp_path / 'splits.json'} does not exist: run python -m pipeline.shard first")
    assert_refused(run([*train, "--protocol", "4@1", "--out", str(tmp_path / "new"), "--resume"]),
                   f"--resume: no checkpoint at {tmp_path / 'new' / 'checkpoint.pt'}")
    assert_refused(run([*train, "--protocol", "4@1", "--init-weights", str(tmp_path / "resnet18.pth")]),
                   "resnet18.pth: no such file")
    typo = params_with(tmp_path, "train", epoch=2)
    assert_refused(run([*train, "--protocol", "4@1", "--params", str(typo)]),
                   "train.epoch is not a setting of train; did you mean train.epochs?")
    evaluate = on_shards("training.evaluate", cefa_shards)
    assert_refused(run([*evaluate, "--protocol", "p9.9"]), "no shards for protocol 'p9.9'", "4_1 (4@1, p4.1)")
    missing = tmp_path / "models" / "checkpoint.pt"
    assert_refused(run([*evaluate, "--protocol", "4@1", "--checkpoint", str(missing)]), f"no checkpoint at {missing}")
    trained_elsewhere = checkpoint_of(tmp_path / "other" / "checkpoint.pt", "3_1")
    assert_refused(run([*evaluate, "--protocol", "4@1", "--checkpoint", str(trained_elsewhere)]),
                   "was trained on cefa protocol 3_1, not cefa 4_1")
    assert_refused(run([*evaluate, "--protocol", "4@1", "--rule", "eer20"]), "expected eer or bpcerN")
    seed_0 = checkpoint_of(tmp_path / "seed-0" / "checkpoint.pt", "4_1")
    assert_refused(run([*evaluate, "--protocol", "4_1", "--seed", "1", "--checkpoint", str(seed_0)]),
                   "was trained with seed 0, not 1: pass --seed 0")
    assert_refused(run([*evaluate, "--run", "cefa-4_1"]), "--run names the dataset and protocol: give it alone")


@pytest.mark.parametrize(("section", "setting", "expected"), [
    ("train", {"epochs": "two"}, "train.epochs = 'two': expected an integer"),
    ("train", {"epochs": 2.5}, "train.epochs = 2.5: expected an integer"),
    ("train", {"lr_milestones": 6}, "train.lr_milestones = 6: expected a list (an integer each)"),
    ("train", {"fail_on_corrupt": "maybe"}, "train.fail_on_corrupt = 'maybe': expected true or false"),
    ("train", {"max_rotation": -30}, "train.max_rotation = -30: expected 0 or more"),
    ("train", {"balance": "datasets"}, "train.balance: 'datasets' is not one of auto, domains_and_classes, none"),
    ("train", {"input_size": 200}, "train.input_size = 200 is larger than the shards' 128-pixel crops"),
    ("shard", {"crop_size": 64.5}, "shard.crop_size = 64.5: expected an integer"),
    ("shard", {"window_length": "seven"}, "shard.window_length = 'seven': expected an integer"),
    ("shard", {"decoder": "ffmpeg"}, "shard setting decoder='ffmpeg': expected one of ('auto', 'pyav', 'decord')"),
    ("shard", {"decode_timeout": 0}, "shard setting decode_timeout=0.0: expected positive (seconds)"),
], ids=lambda value: "-".join(map(str, value.items())) if isinstance(value, dict) else None)
def test_a_setting_of_the_wrong_type_or_range_is_refused_before_any_work(cefa_shards, demo_manifests, tmp_path,
                                                                           section, setting, expected):
    """Checked where it is read: further on it would be a TypeError, every shard task failing, or a run
    that calls good shards broken."""
    params = str(params_with(tmp_path, section, **setting))
    if section == "train":
        command = on_shards("training.train", cefa_shards, "--protocol", "4@1", "--out", str(tmp_path / "model"))
    else:
        root, manifests = demo_manifests("cefa")
        command = ["pipeline.shard", "--dataset", "cefa", "--root", str(root), "--manifests", str(manifests),
                   "--out", str(tmp_path / "s"), "--workers", "0"]
    assert_refused(run([*command, "--params", params]), expected)
    assert not (tmp_path / "model").exists() and not (tmp_path / "s").exists()


def test_model_and_device_mistakes(cefa_shards, tmp_path):
    train = on_shards("training.train", cefa_shards, "--protocol", "4@1", "--out", str(tmp_path / "model"),
                      "--epochs", "1")
    weights = tmp_path / "resnet18.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, weights)
    assert_refused(run([*train, "--init-weights", str(weights), "--width", "16"]),
                   "ImageNet ResNet-18 weights need width 64, this run has train.width = 16: pass --width 64")
    assert_refused(run([*train, "--init-weights", str(weights), "--width", "64"]),
                   f"--init-weights {weights}: cannot load ResNet-18 weights: key 'bn1.weight' is missing")
    if not torch.cuda.is_available():
        assert_refused(run([*train, "--device", "cuda"]), "--device cuda: torch sees no CUDA device here")


def test_a_group_by_column_that_does_not_exist_is_refused_before_scoring(cefa_shards, tmp_path):
    checkpoint = checkpoint_of(tmp_path / "model" / "checkpoint.pt", "4_1")
    assert_refused(run(on_shards("training.evaluate", cefa_shards, "--protocol", "4@1", "--checkpoint",
                                 str(checkpoint), "--group-by", "ethnicty")),
                   "--group-by ethnicty: no such column", "did you mean --group-by ethnicity?")


def test_pipeline_mistakes(demo_manifests, cefa_shards, tmp_path):
    root, manifests = demo_manifests("cefa")
    index = ["pipeline.index", "--dataset", "cefa", "--root", str(tmp_path / "CeFA"), "--out", str(tmp_path)]
    assert_refused(run(index),
                   f"--root {tmp_path / 'CeFA'} does not exist; cefa expects a folder holding CASIA_CeFA/Ethnicity/")
    shard = ["pipeline.shard", "--root", str(root), "--manifests", str(manifests), "--out", str(tmp_path / "s")]
    assert_refused(run([*shard, "--dataset", "casia"]), "invalid choice: 'casia'", "'cefa', 'surf', 'oulu', 'siw'")
    assert_refused(run([*shard, "--dataset", "surf"]), "holds cefa recordings, not surf")
    assert_refused(run([*shard, "--dataset", "cefa", "--workers", "-1"]),
                   "shard.workers (--workers) = -1: expected 0 (run in this process) or more")
    assert_refused(run([*shard, "--dataset", "cefa", "--decoder", "ffmpeg"]), "invalid choice: 'ffmpeg'",
                   "'auto', 'pyav', 'decord'")
    typo = params_with(tmp_path, "shard", worker=2)
    assert_refused(run([*shard, "--dataset", "cefa", "--params", str(typo)]),
                   "shard.worker is not a setting of shard; did you mean shard.workers?")
    assert_refused(run(["pipeline.verify", "--shards", str(tmp_path), "--manifests", str(tmp_path / "m")]),
                   f"{tmp_path / 'm' / 'samples.parquet'} does not exist: run python -m pipeline.shard first")
    assert_refused(run(["pipeline.report", "--dataset", "cefa", "--root", str(root), "--manifests",
                        str(cefa_shards.manifests), "--shards", str(tmp_path / "none")]),
                   f"shard folder {tmp_path / 'none'} does not exist")


def test_commands_run_outside_the_project_with_every_path_given(demo_manifests, tmp_path):
    """In a folder of the user's, beside a params.yaml of another project: nothing is taken from it."""
    root, manifests = demo_manifests("surf")
    elsewhere = tmp_path / "my-project"
    elsewhere.mkdir()
    (elsewhere / "params.yaml").write_text("learning_rate: 0.1\n")
    out = elsewhere / "m"
    done = run(["pipeline.index", "--dataset", "surf", "--root", str(root), "--out", str(out), "-q"], cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    done = run(["pipeline.shard", "--dataset", "surf", "--root", str(root), "--manifests", str(out), "--out",
                str(elsewhere / "s"), "--workers", "0", "-q"], cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    done = run(["pipeline.verify", "--shards", str(elsewhere / "s"), "--manifests", str(out), "-q"], cwd=elsewhere)
    assert done.returncode == 0 and done.stderr == "", done.stderr
