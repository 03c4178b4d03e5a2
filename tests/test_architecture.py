"""What depends on what: DVC stages list every module their command imports, training stays clear of the
dataset code, and the shard format has one home."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "training")


def module_file(name: str) -> Path | None:
    """The source file of a module of ours (a package's ``__init__.py``), or None for anything else."""
    path = REPO.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(name: str) -> set[str]:
    """Our modules that module ``name`` imports anywhere in its source (functions included: a lazy import
    runs too), with the packages their import loads."""
    path = module_file(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for end in range(1, len(parts) + 1):  # importing a.b.c loads a, a.b and a.b.c
                prefix = ".".join(parts[:end])
                if parts[0] in PACKAGES and module_file(prefix):
                    found.add(prefix)
    return found


def import_closure(entry: str) -> set[Path]:
    """Every source file of ours that running ``python -m entry`` can import."""
    seen, todo = set(), [entry] + ([f"{entry}.__main__"] if module_file(f"{entry}.__main__") else [])
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo += imported_modules(name)
    return {module_file(name).relative_to(REPO) for name in seen}


def covered(path: Path, deps: list[str]) -> bool:
    return any(path == Path(dep) or Path(dep) in path.parents for dep in deps)


def stage_commands() -> dict[str, tuple[str, list[str]]]:
    """stage name → (the module its command runs, its deps), for every stage of dvc.yaml."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    found = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        module = re.search(r"python -m ([\w.]+)", body["cmd"]).group(1)
        found[name] = (module, [str(d) for d in body.get("deps", [])])
    return found


@pytest.mark.parametrize("stage", sorted(stage_commands()))
def test_every_stage_depends_on_every_module_its_command_imports(stage):
    module, deps = stage_commands()[stage]
    missing = sorted(str(path) for path in import_closure(module) if not covered(path, deps))
    assert not missing, f"dvc.yaml stage {stage!r} runs {module} but does not depend on {missing}"


def test_every_stage_names_exact_params_keys_and_not_the_speed_settings():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, stage in stages.items():
        keys = [str(k) for k in stage.get("do", stage).get("params", [])]
        assert all("." in key for key in keys), f"{name}: a whole section listed: {keys}"
        assert not {"shard.workers", "train.num_workers"} & set(keys), f"{name} reruns when only the speed changes"
        for key in keys:
            section, _, option = key.partition(".")
            assert section in params and ("${" in option or option in params[section]), (
                f"{name}: no {key} in params.yaml")


def test_training_imports_no_dataset_adapter_detector_or_numba():
    """A training process (and every DataLoader worker it starts) imports the shard format, not the code
    that makes shards: no dataset adapter, no face detector, no numba."""
    code = ("import sys, training.data, training.train, training.evaluate; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith(('pipeline', 'numba', 'face_alignment')))))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.split()
    forbidden = [m for m in loaded if m.startswith(("numba", "face_alignment", "pipeline.detectors", "pipeline.samples",
                                                    "pipeline.shard", "pipeline.protocols"))
                 or (m.startswith("pipeline.datasets.") and m != "pipeline.datasets.records")]
    assert not forbidden, forbidden
    assert "pipeline.format.splits" in loaded


def test_the_shard_format_is_written_and_read_in_one_place():
    """Tar members are written by the format's writer and read by its reader only; splits.json likewise."""
    sources = [p for package in ("pipeline", "training", "benchmarks") for p in (REPO / package).rglob("*.py")
               if "format" not in p.relative_to(REPO).parts]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import tarfile|from tarfile)", text, re.M), (
            f"{path.relative_to(REPO)} handles tars itself")
        assert not re.search(r"[\"']splits\.json[\"']", text), f"{path.relative_to(REPO)} names splits.json itself"
