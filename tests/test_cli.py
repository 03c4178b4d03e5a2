"""Every command line: a help text for every option, --quiet / --verbose; progress bars and the shard stage's one-screen
summary. (The commands of the docs are run by tests/test_docs.py.)"""
from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import cross, index, shard, verify
from pipeline.cli import add_verbosity_arguments, configure_logging, progress_enabled
from pipeline.demo import cli as demo
from pipeline.report import cli as report
from pipeline.shard import StageConfig, StageSummary, format_summary
from training import evaluate, results, train

from .manifests import copy_index_manifests

REPO = Path(__file__).resolve().parent.parent
MAINS = {"pipeline.demo": demo.main, "pipeline.index": index.main, "pipeline.shard": shard.main,
         "pipeline.verify": verify.main, "pipeline.report": report.main, "pipeline.cross": cross.main,
         "training.train": train.main, "training.evaluate": evaluate.main, "training.results": results.main}


@pytest.fixture
def root_level():
    """configure_logging sets the root level; give it back so later tests see pytest's default."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_verbosity_arguments(parser)
    return parser.parse_args(list(flags))


@pytest.mark.parametrize("flags, level, bars", [((), logging.INFO, True), (("--quiet",), logging.WARNING, False),
                                                (("-v",), logging.DEBUG, True)])
def test_verbosity_sets_the_level_and_the_progress_bars(flags, level, bars, root_level):
    configure_logging(parse(*flags))
    assert logging.getLogger().level == level
    assert progress_enabled() is bars


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        parse("--quiet", "--verbose")
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(MAINS))
def test_every_option_of_every_command_has_a_help_text(name, monkeypatch):
    import argparse

    added = []
    original = argparse._ActionsContainer.add_argument

    def recording(self, *names, **options):
        added.append((names, options.get("help")))
        return original(self, *names, **options)

    monkeypatch.setattr(argparse._ActionsContainer, "add_argument", recording)
    with pytest.raises(SystemExit):
        MAINS[name](["--help"])
    silent = [names for names, text in added if not text and names != ("-h", "--help")]
    assert len(added) > 3 and not silent, f"{name}: options without a help text: {silent}"


@pytest.mark.parametrize("name", sorted(MAINS))
def test_every_command_line_offers_quiet_and_verbose(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        MAINS[name](["--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert "--quiet" in usage and "--verbose" in usage


def test_summary_lists_counts_rejects_by_reason_and_time(tmp_path):
    summary = StageSummary(shards=5, reused=2, samples=40, recordings=12, rejected_recordings=1,
                           rejects_by_reason={"no_face": 1, "decode_error": 3}, failed_shards=[], seconds=12.34)
    text = format_summary(summary, StageConfig(root=tmp_path / "raw", manifests=tmp_path / "m", out=tmp_path / "s"))
    lines = text.splitlines()
    assert len(lines) <= 24  # one screen
    assert "12 (11 with samples, 1 wholly rejected)" in lines[0] and "40" in lines[1]
    assert "5 (2 reused)" in lines[2] and str(tmp_path / "s") in lines[2]
    reasons = [line.split() for line in lines if line.startswith("    ")]
    assert reasons == [["decode_error", "3"], ["no_face", "1"]]  # most frequent first
    assert lines[-1].split() == ["time", "12.3", "s"]


def _shard(tmp_path: Path, root: Path, manifests: Path, *flags: str, workers: int = 0) -> subprocess.CompletedProcess:
    params = tmp_path / "params.yaml"
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document["shard"] |= {"workers": workers, "detector": "opencv", "samples_per_shard": 8}
    params.write_text(yaml.safe_dump(document))
    out = tmp_path / "m"
    shutil.rmtree(out, ignore_errors=True)  # no manifests of an earlier run
    copy_index_manifests(manifests, out)
    command = [sys.executable, "-m", "pipeline.shard", "--dataset", "surf", "--root", str(root), "--manifests",
               str(out), "--out", str(tmp_path / "s"), "--params", str(params), *flags]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_shard_shows_progress_and_a_summary_and_is_silent_with_quiet(demo_manifests, tmp_path):
    root, manifests = demo_manifests("surf")
    loud = _shard(tmp_path, root, manifests, workers=2)
    assert loud.returncode == 0, loud.stderr[-2000:]
    pytest.importorskip("bokeh")  # installed by make install (the dashboard extra)
    assert re.search(r"Dask dashboard: http://\S+/status", loud.stderr), loud.stderr[-2000:]
    assert "distributed." not in loud.stderr  # Dask's own thirty-odd INFO lines only with --verbose
    assert re.search(r"shard/s|s/shard", loud.stderr) and "<" in loud.stderr  # tqdm's rate and its time left
    assert f"→ {tmp_path / 's'}" in loud.stderr  # where it writes
    for heading in ("recordings", "samples", "shards", "rejects", "time"):
        assert f"\n  {heading} " in loud.stderr
    shutil.rmtree(tmp_path / "s")
    quiet = _shard(tmp_path, root, manifests, "--quiet", workers=2)  # a LocalCluster: Dask's own logs too
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == "", quiet.stderr[-3000:]
