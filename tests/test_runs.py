"""Runs as data: a protocol with folds trained and evaluated fold by fold for each seed, into the folders the
params name, and turned into one table row by training.results."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch
import yaml

from training.checkpoint import load_checkpoint
from training.evaluate import main as evaluate_main
from training.results import main as results_main
from training.train import main as train_main

from .commands import REPO

FOLDS = ("2_1", "2_2")  # CeFA Protocol 2: train on print, test on replay, and the other way round


def tiny_params(tmp_path: Path, shards) -> Path:
    """The project's params.yaml with a CPU-second SD-Net and every output under ``tmp_path``."""
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["train"] |= dict(manifests=str(shards.manifests), shards=str(shards.out), width=4, epochs=1,
                              batch_size=2, epoch_samples=8, num_workers=0, input_size=64,
                              out=str(tmp_path / "models/{run}/seed-{seed}/train/{protocol}"))
    document["evaluate"]["out"] = str(tmp_path / "models/{run}/seed-{seed}/eval/{protocol}")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.slow
def test_a_row_with_folds_is_trained_evaluated_and_tabulated_for_each_seed(cefa_shards, tmp_path):
    params = str(tiny_params(tmp_path, cefa_shards))
    for seed in ("0", "1"):
        assert train_main(["--run", "cefa-2", "--seed", seed, "--params", params, "-q"]) == 0
        assert evaluate_main(["--run", "cefa-2", "--seed", seed, "--params", params, "-q"]) == 0
    runs = {}
    for fold in FOLDS:
        for seed in (0, 1):
            state = load_checkpoint(tmp_path / f"models/cefa-2/seed-{seed}/train/{fold}/checkpoint.pt")
            assert (state["config"]["protocol"], state["config"]["seed"], state["config"]["run"]) == (fold, seed,
                                                                                                      "cefa-2")
            metrics = json.loads((tmp_path / f"models/cefa-2/seed-{seed}/eval/{fold}/metrics.json").read_text())
            assert {k: metrics[k] for k in ("dataset", "protocol", "seed", "run", "rule")} == {
                "dataset": "cefa", "protocol": fold, "seed": seed, "run": "cefa-2", "rule": "eer"}
            runs[fold, seed] = (state["model"], metrics["test"]["acer"])
    first = next(iter(runs[FOLDS[0], 0][0]))
    assert not torch.equal(runs[FOLDS[0], 0][0][first], runs[FOLDS[0], 1][0][first])  # the seed made another model

    assert results_main(["--runs", str(tmp_path / "models"), "--out", str(tmp_path / "results"),
                         "--protocols", "cefa-2", "--seeds", "0", "1"]) == 0
    row = json.loads((tmp_path / "results" / "results.json").read_text())["cefa"]["2"]
    assert (row["folds"], row["seeds"], row["runs"]) == (list(FOLDS), [0, 1], 4)
    acer = {key: value for key, (_, value) in runs.items()}
    assert row["test"]["acer"]["mean"] == pytest.approx(statistics.mean(acer.values()))
    assert row["test"]["acer"]["std"] == pytest.approx(
        statistics.stdev([statistics.mean(acer[f, s] for s in (0, 1)) for f in FOLDS]))
    assert "| 2 | SD-Net (ours) | 2 folds × 2 seeds |" in (tmp_path / "results" / "results.md").read_text()
