"""Training and evaluation commands: resumable checkpoints, torchrun, external score files."""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from training.checkpoint import build_model, load_checkpoint, load_trained
from training.config import TrainConfig, config_from_args
from training.evaluate import main as evaluate_main
from training.train import main as train_main, run

from .commands import params_with, run as run_command, torchrun

REPO = Path(__file__).resolve().parent.parent


def tiny_config(cefa_shards, out: Path, **overrides) -> TrainConfig:
    values = dict(dataset="cefa", protocol="4_1", manifests=str(cefa_shards.manifests), shards=str(cefa_shards.out),
                  out=str(out), width=4, epochs=2, batch_size=4, epoch_samples=8, num_workers=0, input_size=64,
                  lr_milestones=(1,))
    return TrainConfig(**(values | overrides))


def test_checkpoint_resumes_to_the_same_state(cefa_shards, tmp_path):
    straight = tiny_config(cefa_shards, tmp_path / "straight")
    run(straight)
    interrupted = tiny_config(cefa_shards, tmp_path / "resumed", epochs=1)
    run(interrupted)
    run(replace(interrupted, epochs=2), resume=True)
    a, b = (load_checkpoint(Path(c.out) / "checkpoint.pt") for c in (straight, interrupted))
    assert a["epoch"] == b["epoch"] == 1
    assert a["scheduler"] == b["scheduler"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    metrics = json.loads((tmp_path / "resumed" / "dvclive" / "metrics.json").read_text())
    assert metrics["step"] == 1 and "acer" in metrics["dev"]


@pytest.mark.parametrize("protocol, trained", [("4_1", ["rgb", "depth", "ir"]), ("3_1", ["rgb"])])
def test_evaluate_scores_every_test_video_with_each_heads_probability(cefa_shards, tmp_path, protocol, trained):
    # 3_1 is cross-modality: trained on RGB, tested on depth and IR fed into the RGB branches
    run(tiny_config(cefa_shards, tmp_path / "model", protocol=protocol, epochs=1))
    params = _params(tmp_path, cefa_shards)
    assert evaluate_main(["--dataset", "cefa", "--protocol", protocol, "--params", str(params),
                          "--checkpoint", str(tmp_path / "model" / "checkpoint.pt"),
                          "--out", str(tmp_path / "eval")]) == 0
    scores = pd.read_csv(tmp_path / "eval" / "scores_test.csv")
    samples = pd.read_parquet(cefa_shards.manifests / "samples.parquet")
    protocols = pd.read_parquet(cefa_shards.manifests / "protocols.parquet")
    test_videos = protocols[(protocols["protocol"] == protocol) & (protocols["split"] == "test")]["video_id"]
    assert sorted(scores["video_id"]) == sorted(test_videos)
    windows = samples[samples["video_id"].isin(test_videos)].groupby("video_id").size()
    assert (scores.set_index("video_id")["n_windows"] == windows).all()
    heads = [c for c in scores.columns if c.startswith("head:")]
    kinds = ("static", "dynamic", "static_dynamic", "fused")
    assert heads == [f"head:{m}/{k}" for m in trained for k in kinds] + ["head:whole"]
    # SD-Net's decision score is its whole-network head; every head is a probability averaged the same way
    assert scores["score"].to_numpy() == pytest.approx(scores["head:whole"].to_numpy(), abs=1e-6)
    assert ((scores[heads] >= 0) & (scores[heads] <= 1)).all().all()
    # ethnicity joined from videos.parquet: the masks have none, and count in every ethnicity's rates
    videos = pd.read_parquet(cefa_shards.manifests / "videos.parquet").set_index("video_id")
    by_video = scores.set_index("video_id")["ethnicity"]
    assert by_video.fillna("").to_dict() == videos.loc[by_video.index, "ethnicity"].fillna("").to_dict()
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    groups = sorted(by_video.dropna().unique())
    assert len(groups) >= 2 and sorted(metrics["test"]["by_ethnicity"]) == groups
    n_masks = int(scores["attack_type"].isin(["mask3d", "silicone"]).sum())
    for group in groups:
        own = scores[(scores["ethnicity"] == group) & ~scores["is_bonafide"]]
        assert metrics["test"]["by_ethnicity"][group]["n_attack"] == len(own) + n_masks
    assert set(metrics["test"]["bias_err"]) == {"apcer", "bpcer", "acer"}


def test_checkpoints_refuse_pickled_code(tmp_path):
    class Boom:
        def __reduce__(self):
            return (Path(tmp_path / "pwned").touch, ())

    torch.save({"model": Boom()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="Weights only load failed"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def _params(tmp_path: Path, cefa_shards) -> Path:
    return params_with(tmp_path, "train", manifests=str(cefa_shards.manifests), shards=str(cefa_shards.out),
                       out=str(tmp_path / "{dataset}-{protocol}"), width=4, epochs=1, batch_size=2, epoch_samples=8,
                       num_workers=1, input_size=64)


@pytest.mark.slow
def test_torchrun_splits_evaluation_exactly_once_and_trains_with_ddp(cefa_shards, tmp_path):
    result = torchrun("tests/dist_eval_keys.py", str(cefa_shards.manifests), str(cefa_shards.out), str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    samples = pd.read_parquet(cefa_shards.manifests / "samples.parquet")
    index = json.loads((cefa_shards.manifests / "splits.json").read_text())["splits"]["4_1/test"]
    assert ranks[0] and ranks[1] and not set(ranks[0]) & set(ranks[1])
    assert sorted(ranks[0] + ranks[1]) == sorted(
        samples[samples["shard"].isin([s[:-4] for s in index["shards"]])]["key"])

    result = torchrun("-m", "training.train", "--dataset", "cefa", "--protocol", "4@1",
                       "--params", str(_params(tmp_path, cefa_shards)))
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint(tmp_path / "cefa-4_1" / "checkpoint.pt")
    assert state["epoch"] == 0 and not any(k.startswith("module.") for k in state["model"])


def test_evaluate_any_models_score_files(tmp_path):
    """dev: bona fide 0.9/0.8, attacks 0.3/0.85 → EER point at (0.8, 0.85], threshold 0.825;
    test at 0.825: BPCER 1/2, APCER 0."""
    rows = lambda ids, scores, labels, types: pd.DataFrame(  # noqa: E731
        {"video_id": ids, "score": scores, "is_bonafide": labels, "attack_type": types})
    rows(["d1", "d2", "d3", "d4"], [0.9, 0.8, 0.3, 0.85], [1, 1, 0, 0],
         ["bonafide", "bonafide", "print", "replay"]).to_csv(tmp_path / "dev.csv", index=False)
    rows(["t1", "t2", "t3"], [0.95, 0.5, 0.2], [1, 1, 0],
         ["bonafide", "bonafide", "print"]).to_csv(tmp_path / "test.csv", index=False)
    assert evaluate_main(["--scores-dev", str(tmp_path / "dev.csv"), "--scores-test", str(tmp_path / "test.csv"),
                          "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["threshold"] == pytest.approx(0.825)
    assert metrics["test"]["bpcer"] == pytest.approx(0.5) and metrics["test"]["apcer"] == 0.0
    assert metrics["test"]["apcer_worst_pai"] == 0.0 and metrics["test"]["acer"] == pytest.approx(0.25)


def test_score_files_get_their_groups_from_the_manifest(tmp_path):
    """Score files without an ethnicity column: --manifests joins it from videos.parquet by video_id.
    dev (AF only): bona fide 0.9, attack 0.3 -> threshold 0.6 (midpoint of (0.3, 0.9]);
    test at 0.6: AF bona fide 0.8 accepted, attack 0.7 accepted; EA bona fide 0.5 rejected, attack 0.2 rejected;
    the mask (no ethnicity, 0.65 accepted) counts in both:
    AF APCER 2/2, BPCER 0, ACER 1/2;  EA APCER 1/2, BPCER 1, ACER 3/4 -> BiasERR APCER 1/2, BPCER 1, ACER 1/4."""
    pd.DataFrame({"video_id": ["d1", "d2", "t1", "t2", "t3", "t4", "m1"],
                  "ethnicity": ["AF", "AF", "AF", "AF", "EA", "EA", None]}).to_parquet(tmp_path / "videos.parquet")
    pd.DataFrame({"video_id": ["d1", "d2"], "score": [0.9, 0.3], "is_bonafide": [1, 0],
                  "attack_type": ["bonafide", "print"]}).to_csv(tmp_path / "dev.csv", index=False)
    pd.DataFrame({"video_id": ["t1", "t2", "t3", "t4", "m1"], "score": [0.8, 0.7, 0.5, 0.2, 0.65],
                  "is_bonafide": [1, 0, 1, 0, 0], "attack_type": ["bonafide", "print", "bonafide", "print", "mask3d"]}
                 ).to_csv(tmp_path / "test.csv", index=False)
    files = ["--scores-dev", str(tmp_path / "dev.csv"), "--scores-test", str(tmp_path / "test.csv")]
    assert evaluate_main([*files, "--out", str(tmp_path / "eval"), "--manifests", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["threshold"] == pytest.approx(0.6)
    by_group = {g: (m["apcer"], m["bpcer"], m["acer"]) for g, m in metrics["test"]["by_ethnicity"].items()}
    assert by_group == {"AF": pytest.approx((1.0, 0.0, 0.5)), "EA": pytest.approx((0.5, 1.0, 0.75))}
    assert metrics["test"]["bias_err"] == pytest.approx({"apcer": 0.5, "bpcer": 1.0, "acer": 0.25})
    written = pd.read_csv(tmp_path / "eval" / "scores_test.csv")["ethnicity"]
    assert written.fillna("").tolist() == ["AF", "AF", "EA", "EA", ""]
    for extra in ([], ["--manifests", str(tmp_path), "--group-by", "none"]):  # nothing to group by / switched off
        assert evaluate_main([*files, "--out", str(tmp_path / "plain"), *extra]) == 0
        assert "by_ethnicity" not in json.loads((tmp_path / "plain" / "metrics.json").read_text())["test"]


def test_a_bad_score_file_is_one_error_line_and_exit_1(tmp_path, caplog):
    (tmp_path / "dev.csv").write_text("video_id,score,is_bonafide,attack_type\nd1,0.9,1,print\n")
    assert evaluate_main(["--scores-dev", str(tmp_path / "dev.csv"), "--scores-test", str(tmp_path / "dev.csv"),
                          "--out", str(tmp_path / "eval")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "dev.csv: column 'attack_type'" in errors[0] and "\n" not in errors[0]
    assert not (tmp_path / "eval").exists()


def test_a_mistyped_final_head_in_params_stops_training_before_it_starts(tmp_path, capsys):
    params = params_with(tmp_path, "train", final_head="wholes")
    assert train_main(["--dataset", "cefa", "--protocol", "4_1", "--params", str(params)]) == 2
    assert "train.final_head: 'wholes' is not one of whole, shared" in capsys.readouterr().err


def test_a_checkpoint_from_before_the_final_head_switch_loads_with_its_shared_head(tmp_path):
    config = TrainConfig(dataset="cefa", protocol="4_1", manifests="m", shards="s", out=str(tmp_path), width=4,
                         final_head="shared")
    model = build_model(config, ["rgb", "depth", "ir"])
    old_config = {k: v for k, v in asdict(config).items() if k != "final_head"}
    torch.save({"model": model.state_dict(), "config": old_config}, tmp_path / "checkpoint.pt")
    loaded, modalities = load_trained(tmp_path / "checkpoint.pt")
    assert loaded.score_head == "shared" and modalities == ["rgb", "depth", "ir"]
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_the_documented_paper_configuration_gives_the_papers_recipe(cefa_shards):
    """The `dvc exp run -S …` line of docs/sdnet.md, applied to params.yaml, trains what the paper describes."""
    page = (REPO / "docs" / "sdnet.md").read_text(encoding="utf-8")
    section = page.split("## The paper's recipe")[1].split("\n## ")[0]
    line = next(ln for ln in section.splitlines() if ln.startswith("dvc exp run "))
    params = yaml.safe_load((REPO / "params.yaml").read_text())["train"]
    for key, value in re.findall(r"-S '?train\.(\w+)=([^' ]+)'?", line):
        assert key in params, key
        params[key] = yaml.safe_load(value)
    args = argparse.Namespace(dataset="cefa", protocol="4@1", manifests=str(cefa_shards.manifests), shards=None,
                              out=None)
    config = config_from_args(args, params)
    assert (config.width, config.batch_size, config.epochs, config.lr_milestones) == (64, 64, 25, (15, 20))
    assert (config.input_size, config.max_rotation, config.final_head) == (112, 30, "whole") and config.colour > 0
    assert (config.optimizer, config.lr) == ("adam", 0.001)  # docs/sdnet.md says why not the paper's 0.1


def test_training_pointed_at_a_missing_shard_folder_stops_at_once_and_says_where(cefa_shards, tmp_path):
    """It used to run for good, skipping "No such file" about 50,000 times a second."""
    done = run_command(["training.train", "--dataset", "cefa", "--protocol", "4@1",
                        "--manifests", str(cefa_shards.manifests), "--shards", str(tmp_path / "wrong folder")])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"splits.json expects the shards in {tmp_path / 'wrong folder'}" in done.stderr, done.stderr
