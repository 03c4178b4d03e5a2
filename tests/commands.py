"""Commands run as a user runs them, in a shell: ``python -m …`` in a subprocess, the checks of a refused one,
and the params file a run is pointed at."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path = REPO, timeout: int = 120,
        env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m <args>`` in ``cwd``, with ``env`` (default: this process's environment), the project
    importable."""
    variables = dict(os.environ if env is None else env) | {"PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=variables, capture_output=True, text=True,
                          timeout=timeout)


def on_shards(command: str, shards: Any, *args: str) -> list[str]:
    """The arguments of ``command`` (``training.train``, ``training.evaluate``) on a CeFA shard run's manifests and
    shards (a :class:`pipeline.shard.StageConfig`, e.g. the ``cefa_shards`` fixture)."""
    return [command, "--dataset", "cefa", "--manifests", str(shards.manifests), "--shards", str(shards.out), *args]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """A script under ``torch.distributed.run`` with two processes on this machine."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def assert_refused(done: subprocess.CompletedProcess, *expected: str) -> None:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    for text in expected:
        assert text in last, (text, done.stderr[-2000:])


def params_with(folder: Path, section: str, **settings) -> Path:
    """``folder/params.yaml``: the project's, with ``settings`` over its ``section``."""
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    document[section] |= settings
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return path
