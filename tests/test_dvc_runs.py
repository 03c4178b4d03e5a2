"""Runs are data: `dvc repro` trains, evaluates and tabulates the runs params.yaml lists, and a seed added with
`dvc exp run -S` trains that seed alone, leaving the runs already made as they are."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .project import REPO, copy_project, dvc, set_params

GIT = os.environ | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                    "GIT_COMMITTER_EMAIL": "t@t"}


@pytest.mark.slow
def test_a_seed_added_by_dvc_exp_run_trains_only_that_seed(tmp_path):
    project = tmp_path / "project"
    copy_project(project)
    set_params(project, raw={"surf": "data/demo/surf"}, demo__size="tiny", shard__workers=0,
               shard__detector="opencv", runs__protocols=["surf-1"], runs__seeds=[0], train__width=4,
               train__epochs=1, train__batch_size=2, train__epoch_samples=8, train__num_workers=0, train__input_size=64)
    subprocess.run("git add -A && git commit -qm project", shell=True, cwd=project, env=GIT, check=True)
    dvc(project, "repro", "results")  # one dataset: the cross stage leaves every cross protocol out, and goes on
    assert json.loads((project / "manifests/cross/splits.json").read_text())["protocols"] == {}
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
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    table = subprocess.run(["bash", "-c", documented_command("README.md", "dvc exp show ")], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr[-2000:]
    head, _, workspace = table.stdout.splitlines()[:3]  # the README's headline columns, and the workspace's numbers
    assert "surf.1.test.acer.mean" in head and "surf.1.test.own_eer.mean" in head and "runs.seeds" in head
    assert workspace.split("|")[1].strip() == "workspace" and re.search(r"\| [\d.]+ +\|", workspace), table.stdout


def documented_command(page: str, start: str) -> str:
    """The one command line of ``page``'s bash blocks that starts with ``start``, without its comment."""
    text = (REPO / page).read_text(encoding="utf-8")
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()
             if line.startswith(start)]
    assert len(lines) == 1, (page, start, lines)
    return re.split(r"\s+#\s+", lines[0])[0]
