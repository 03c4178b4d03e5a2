"""Runs are data: `dvc repro` trains, evaluates and tabulates the runs params.yaml lists, and a seed added with
`dvc exp run -S` trains that seed alone, leaving the runs already made as they are."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from .project import copy_project, dvc, set_params


@pytest.mark.slow
def test_a_seed_added_by_dvc_exp_run_trains_only_that_seed(tmp_path):
    project = tmp_path / "project"
    copy_project(project)
    set_params(project, raw={"surf": "data/demo/surf"}, demo__size="tiny", shard__workers=0,
               shard__detector="opencv", runs__protocols=["surf-1"], runs__seeds=[0], train__width=4,
               train__epochs=1, train__batch_size=2, train__epoch_samples=8, train__num_workers=0, train__input_size=64)
    git = os.environ | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run("git add -A && git commit -qm project", shell=True, cwd=project, env=git, check=True)
    dvc(project, "repro", "results")
    first = project / "models/surf-1/seed-0/train/1/checkpoint.pt"
    made = first.stat().st_mtime_ns
    row = json.loads((project / "results/results.json").read_text())["surf"]["1"]
    assert (row["seeds"], row["test"]["acer"]["n_seeds"]) == ([0], 1)

    dvc(project, "exp", "run", "-S", "runs.seeds=[0,1]")
    assert first.stat().st_mtime_ns == made  # seed 0's stages were up to date: not trained again
    assert (project / "models/surf-1/seed-1/train/1/checkpoint.pt").is_file()
    row = json.loads((project / "results/results.json").read_text())["surf"]["1"]
    assert (row["seeds"], row["runs"], row["test"]["acer"]["n_seeds"]) == ([0, 1], 2, 2)
    shown = json.loads(dvc(project, "metrics", "show", "--json").stdout)
    assert "surf" in json.dumps(shown)  # results.json is what `dvc metrics show` (and `dvc exp show`) read
