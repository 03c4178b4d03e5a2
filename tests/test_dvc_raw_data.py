"""`dvc repro` on a real release: the release is only ever read, never written, replaced or deleted.

The project is copied as a clone has it; a tiny raw tree stands for the user's copy of CASIA-SURF at the
place docs/datasets.md gives (data/raw/surf), with a file of the user's beside it. The pipeline runs first on
the demo data (so the demo stage's output exists, as after `make demo`), then on the release after the
one documented change in params.yaml.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipeline.demo import generate

from .project import copy_project, dvc, set_params

SURF_STAGES = ["demo@surf", "index@surf", "shard@surf", "verify@surf", "report@surf"]


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: its sha256 and modification time."""
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def dvc_repro(project: Path) -> None:
    dvc(project, "repro", *SURF_STAGES)


@pytest.mark.slow
def test_dvc_repro_reads_a_real_release_and_never_writes_it(tmp_path):
    project = tmp_path / "project"
    copy_project(project)
    set_params(project, demo__size="tiny", shard__workers=0, shard__detector="opencv")
    dvc_repro(project)  # on the demo data, as `make demo` does
    assert (project / "data/demo/surf/CASIA_SURF").is_dir()

    release = project / "data" / "raw" / "surf"
    generate("surf", release, seed=7, size="tiny")  # stands for the user's copy of the release
    (release / "MY_NOTES.txt").write_text("the user's own file, next to the release\n")
    before = tree_state(release)
    set_params(project, raw__surf="data/raw/surf")  # the one documented change
    dvc_repro(project)
    assert tree_state(release) == before  # not a byte, name or timestamp changed
    report = (project / "manifests/surf/index_report.json").read_text()
    assert '"data/raw/surf"' in report  # the index read the release, not the demo
    dvc_repro(project)  # and again, with everything up to date
    assert tree_state(release) == before
