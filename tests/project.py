"""The project as a fresh clone has it, copied into a temporary folder, and DVC run in it as a user runs it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def copy_project(target: Path) -> None:
    """Every file git would hand a clone (tests aside), in a new git repository at ``target``."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        if (REPO / name).is_file() and not name.startswith("tests/"):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)


def dvc(project: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``dvc <args>`` in ``project`` with this environment's Python first on the PATH; it must succeed."""
    # one training thread: two OpenMP threads spinning against another job's cost a tiny run 5x its time
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                        "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(Path(sys.executable).parent / "dvc"), *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def set_params(project: Path, **changes) -> None:
    """Change ``section__name`` settings of the project's params.yaml (``runs__seeds=[0, 1]``), or a whole
    ``section``."""
    path = project / "params.yaml"
    document = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            document[section][name] = value
        else:
            document[section] = value
    path.write_text(yaml.safe_dump(document))
