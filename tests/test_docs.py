"""The documentation holds: every command of README.md and docs/*.md is run, here on tiny demo data or by the test
its comment names, or is a dvc.yaml stage's command (``make demo``) or a Makefile target; the shard-format snippets
read a split as printed; the local S3 recipe runs; the generated numbers are what their committed sources make;
links and images resolve; the settings the pages name exist; and each page says what its reader will be able to
do."""
from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .commands import REPO


def _module(path: Path):
    """A script of benchmarks/ as a module (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


publish = _module(REPO / "benchmarks" / "publish.py")

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TEST_REFERENCE = re.compile(r"tests/[\w/]+\.py::\w+")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
#: A setting of params.yaml as the pages name it: ``shard.window_length``
SETTING = re.compile(r"\b((?:demo|index|shard|runs|train|evaluate|storage)\.[a-z_]+)\b(?!\.|\()")


@dataclass(frozen=True)
class DocCommand:
    page: str
    command: str
    runner: str | None  # the test (tests/…::name), make demo (dvc.yaml: …), or None: test_doc_commands_run_on_demo_data


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(page.read_text(encoding="utf-8")) if lang == language]


def doc_commands() -> list[DocCommand]:
    """Every command line of every ```bash block (a line ending in ``\\`` continues on the next). A comment on a
    line names what runs it; a block whose first line is a comment naming a test is run whole by that test."""
    found = []
    for page in PAGES:
        for body in blocks(page, "bash"):
            lines = re.sub(r"\\\n\s*", "", body).splitlines()
            whole = TEST_REFERENCE.search(lines[0]) if lines[0].startswith("#") else None
            for line in filter(str.strip, lines[1:] if whole else lines):
                command, *comment = re.split(r"\s+#\s+", line, maxsplit=1)
                runner = whole.group(0) if whole else (comment[0].strip() if comment else None)
                found.append(DocCommand(page.relative_to(REPO).as_posix(), command.strip(), runner))
    return found


def dvc_commands(params: dict | None = None) -> set[str]:
    """Every stage command of dvc.yaml, its foreach items, matrix values and ``params`` (params.yaml's values by
    default) filled in (a dict unpacked as DVC does with parsing.list = nargs: ``--protocols a b --seeds 0``)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = params or yaml.safe_load((REPO / "params.yaml").read_text())
    found = set()
    for stage in stages.values():
        cmd = stage.get("do", stage).get("cmd", "")
        for values in stage_items(stage, params):
            found.add(re.sub(r"\$\{([\w.]+)\}", lambda m, values=values: _filled(m.group(1), values, params), cmd))
    return found


def stage_items(stage: dict, params: dict) -> list[dict[str, object]]:
    """The values a foreach or matrix stage is generated with (``key``, ``item``, ``item.<name>``); none for a plain
    stage."""
    if "matrix" in stage:
        axes = {name: _param(params, values) for name, values in stage["matrix"].items()}
        return [{f"item.{name}": value for name, value in zip(axes, combination)}
                for combination in itertools.product(*axes.values())]
    if "foreach" not in stage:
        return [{}]
    items = _param(params, stage["foreach"])  # ${raw}: the datasets, each with its raw root
    return [{"key": key} | ({f"item.{k}": v for k, v in item.items()} if isinstance(item, dict) else {"item": item})
            for key, item in (items.items() if isinstance(items, dict) else ((i, i) for i in items))]


def _param(params: dict, reference: object) -> object:
    """``${runs.seeds}`` → params.yaml's value; anything else as it is."""
    match = re.fullmatch(r"\$\{([\w.]+)\}", str(reference))
    return _lookup(params, match.group(1)) if match else reference


def _lookup(params: dict, name: str) -> object:
    value: object = params
    for part in name.split("."):
        value = value[part]  # type: ignore[index]
    return value


def _filled(name: str, values: dict[str, object], params: dict) -> str:
    value = values[name] if name in values else _lookup(params, name)
    if isinstance(value, dict):
        return " ".join(f"--{key} {' '.join(map(str, v)) if isinstance(v, list) else v}" for key, v in value.items())
    return str(value)


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), re.M))


def test_every_doc_command_is_run_by_a_test_or_by_make_demo():
    commands = doc_commands()
    assert len(commands) >= 40 and {c.page for c in commands} >= {"README.md", "docs/datasets.md", "docs/bucket.md"}
    dvc = dvc_commands()
    for doc in commands:
        where = f"{doc.page}: {doc.command}"
        if doc.command.startswith("make "):
            assert doc.command.split()[1] in makefile_targets(), where
        elif doc.runner is None:
            continue  # test_doc_commands_run_on_demo_data
        elif doc.runner.startswith("make demo"):
            assert doc.command in dvc, where
        else:
            reference = TEST_REFERENCE.search(doc.runner)
            assert reference, f"{where}: a comment names the test that runs the line (tests/…::name) or make demo"
            path, _, name = reference.group(0).partition("::")
            assert f"def {name}(" in (REPO / path).read_text(), f"{where}: no {reference.group(0)}"


def test_the_runs_the_docs_list_are_stages_dvc_generates():
    """A ``dvc exp run -S 'runs.protocols=[…]'`` line names runs that exist, and DVC's matrix then holds their train
    and evaluate stages: the commands tests/test_cross.py and tests/test_runs.py run."""
    from training.tables import RunName, load_tables

    tables = load_tables()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    listed = [doc for doc in doc_commands() if "runs.protocols=[" in doc.command]
    assert listed
    for doc in listed:
        names = re.search(r"runs\.protocols=\[([^\]]*)\]", doc.command).group(1).split(",")
        commands = dvc_commands(params | {"runs": params["runs"] | {"protocols": names}})
        for name in names:
            assert RunName.parse(name).folds(tables), name
            for stage in ("train", "evaluate"):
                assert f"python -m training.{stage} --run {name} --seed 0" in commands, (doc.page, name)


def sandbox_commands() -> list[str]:
    """The lines test_doc_commands_run_on_demo_data runs, each once, in page order."""
    return list(dict.fromkeys(doc.command for doc in doc_commands()
                              if doc.runner is None and not doc.command.startswith("make ")))


def sandbox(demo_root, folder: Path, commands: list[str]) -> dict[str, str]:
    """``folder`` as a user's working copy: the tiny demo of each dataset at the data/raw/<ds> the commands name
    (params.yaml pointed there), settings that keep a run to seconds, docs/ beside; the environment to run in."""
    document = yaml.safe_load((REPO / "params.yaml").read_text())
    for dataset in sorted(set(re.findall(r"data/raw/(\w+)", " ".join(commands)))):
        shutil.copytree(demo_root(dataset)[0], folder / "data" / "raw" / dataset)
        document["raw"][dataset] = f"data/raw/{dataset}"  # the one change docs/datasets.md asks for
    document["shard"] |= {"workers": 0, "detector": "opencv"}  # one process, no model download
    document["train"] |= {"width": 4, "epochs": 1, "batch_size": 2, "epoch_samples": 8, "num_workers": 0,
                          "input_size": 64}
    (folder / "params.yaml").write_text(yaml.safe_dump(document))
    (folder / "docs").symlink_to(REPO / "docs")
    # one training thread: two OpenMP threads spinning against another job's cost a tiny run 5x its time
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                         "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_doc_commands_run_on_demo_data(demo_root, tmp_path):
    commands = sandbox_commands()
    env = sandbox(demo_root, tmp_path, commands)
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, (command, done.stderr[-3000:])
    ran = {command.split()[2] for command in commands if command.startswith("python -m ")}
    assert ran >= {"pipeline.index", "pipeline.shard", "pipeline.verify", "pipeline.report", "training.train",
                   "training.evaluate", "training.results"}, ran
    report = json.loads((tmp_path / "manifests/cefa/index_report.json").read_text())
    assert report["list_differences"] == [] and "--use-lists" in report["command"]
    assert list((tmp_path / "data/shards/cefa").glob("*.tar")) and (tmp_path / "reports/cefa/report.html").is_file()
    metrics = json.loads((tmp_path / "models/cefa-4_1/seed-0/eval/4_1/metrics.json").read_text())
    assert (metrics["dataset"], metrics["protocol"], metrics["run"]) == ("cefa", "4_1", "cefa-4_1")
    assert "| 4_1 | SD-Net (ours) | 1 seed |" in (tmp_path / "results/results.md").read_text()
    for dataset in ("casia_fasd", "replay_attack", "msu_mfsd"):
        assert (tmp_path / "manifests" / dataset / "protocols.parquet").is_file(), dataset
    videos = pd.read_parquet(tmp_path / "manifests/casia_fasd/videos.parquet")
    assert set(videos["face_source"]) == {"face_file"}  # --annotations: bob's face files


# --- the local S3 store recipe of docs/bucket.md, run as it is ---------------------------------------------------

#: The ports ``weed mini`` listens on by default (the recipe's): S3, master, volume, filer, admin and their gRPC ports.
WEED_PORTS = (8333, 18333, 9333, 19333, 9340, 19340, 8888, 18888, 23646, 33646)


@pytest.mark.slow
def test_the_local_s3_store_recipe_runs(demo_root, tmp_path):
    (recipe,) = [body for body in blocks(REPO / "docs" / "bucket.md", "bash")
                 if body.startswith("# tests/test_docs.py::test_the_local_s3_store_recipe_runs")]
    env = sandbox(demo_root, tmp_path, [recipe])
    store = tmp_path / "s3store"  # not the recipe's /tmp/s3store: nothing of a test's left in /tmp
    script = tmp_path / "recipe.sh"
    script.write_text(recipe.replace("/tmp/s3store", str(store)))
    try:
        done = subprocess.run(["bash", "-e", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
    finally:
        for port in WEED_PORTS:  # the sockets weed leaves in /tmp, named by its ports
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert re.search(r"samples\s+\d+", done.stderr) and "/my-bucket/shards/cefa" in done.stderr


# --- the shard format: the snippets read a split as printed -----------------------------------------------------

@pytest.mark.slow
def test_the_shard_format_snippets_read_a_protocol_split(cefa_shards, tmp_path):
    snippets = blocks(REPO / "docs" / "shard-format.md", "python")
    assert len(snippets) == 2 and "import webdataset" in snippets[0] and "from datasets import" in snippets[1]
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "cefa").symlink_to(cefa_shards.manifests)
    expected = json.loads((cefa_shards.manifests / "splits.json").read_text())["splits"]["4_1/test"]["n_samples"]
    env = os.environ | {"PYTHONPATH": str(REPO), "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
                        "HF_DATASETS_OFFLINE": "1"}
    outputs = []
    for number, snippet in enumerate(snippets):
        (tmp_path / f"snippet{number}.py").write_text(snippet)
        done = subprocess.run([sys.executable, f"snippet{number}.py"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(done.stdout.splitlines())
    webdataset, hugging_face = outputs
    assert len(webdataset) == expected and all(line.endswith("(128, 128, 3) uint8") for line in webdataset)
    assert hugging_face[-1].endswith(f"(128, 128, 3) uint8 {expected}")
    assert hugging_face[-1].split()[0] in {line.split()[0] for line in webdataset}  # the same samples, by key


# --- numbers that come from what the commands wrote -------------------------------------------------------------

def test_the_generated_blocks_are_what_their_committed_sources_make():
    assert publish.stale_pages() == [], "run make publish (benchmarks/publish.py), or publish a new run"


def test_publish_copies_a_bench_log_and_the_runs_scores_into_the_docs(tmp_path):
    root = tmp_path / "repo"
    for name in ("README.md", "docs", publish.LAST_RUN):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / name)
        else:
            shutil.copy(REPO / name, root / name)
    log = tmp_path / "bench.log"
    log.write_text("make[1]: Entering directory\n\n== kernel vs one pass ==  (riscv64, 64 cores, Python 3.14.0)\n"
                   "  (preparing: python -m pipeline.demo --dataset cefa --out /home/me/data/bench/raw/cefa)\n"
                   "progress 10%\rprogress 100%\n  figures behind it\n"
                   "RESULT kernel/one pass 7x128x128: 0.64x  (target <= 1.3x: met)  ours 41.0 µs\n"
                   "RESULT loader/peer: 8.90x  (target >= 10x: NOT met)  1,674 vs 188 samples/s\n")
    runs = tmp_path / "models"
    for seed in (0, 1):  # two seeds of OULU-NPU Protocol 1, scored as the committed demo scores' seed 0 and 1
        evaluated = runs / "oulu-1" / f"seed-{seed}" / "eval" / "1"
        evaluated.mkdir(parents=True)
        metrics = {"dataset": "oulu", "protocol": "1", "seed": seed, "rule": "eer", "dev": {}, "test": {}}
        (evaluated / "metrics.json").write_text(json.dumps(metrics))
        for name in ("scores_dev.csv", "scores_test.csv"):
            rows = list(csv.DictReader((REPO / publish.DEMO_SCORES / f"oulu-1-{seed}" / name).open()))
            with (evaluated / name).open("w", newline="") as file:  # with a head column, as evaluate writes them
                writer = csv.DictWriter(file, [*rows[0], "head:whole"], lineterminator="\n")
                writer.writeheader()
                writer.writerows(row | {"head:whole": row["score"]} for row in rows)
    assert publish.main(["--bench", str(log), "--runs", str(runs)], root=root) == 0

    last_run = (root / publish.LAST_RUN).read_text()
    assert last_run.startswith("== kernel vs one pass ==") and "preparing" not in last_run and "\r" not in last_run
    performance = (root / "docs/performance.md").read_text()
    assert "Measured on riscv64, 64 cores, Python 3.14.0" in performance
    assert "| kernel/one pass 7x128x128 | 0.64× | ≤ 1.3×: met | ours 41.0 µs |" in performance
    assert "| loader/peer | 8.90× | ≥ 10×: **not met** | 1,674 vs 188 samples/s |" in performance
    assert sorted(p.name for p in (root / publish.DEMO_SCORES).iterdir()) == ["oulu-1-0", "oulu-1-1"]
    header = (root / publish.DEMO_SCORES / "oulu-1-0/scores_test.csv").read_text().splitlines()[0]
    assert header == "video_id,subject,is_bonafide,attack_type,score"  # the schema's columns only
    headline = (root / "README.md").read_text().split("<!-- demo-results-head:")[1].split("<!-- /demo-results-head")[0]
    assert "**OULU-NPU**" in headline and "| 1 | SD-Net (ours) | 2 seeds |" in headline and "CeFA" not in headline
    assert publish.main(["--check"], root=root) == 0
    results = root / "docs/results.md"
    results.write_text(results.read_text().replace("| SD-Net (ours) | 2 seeds |", "| SD-Net (ours) | 9 seeds |"))
    assert publish.stale_pages(root) == [results]  # a number edited by hand is caught


# --- links, images, settings, and the shape of the pages ---------------------------------------------------------

def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped (word characters, spaces and hyphens kept),
    spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.M)}


def test_every_link_and_image_between_the_pages_resolves():
    checked = 0
    for page in PAGES:
        text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.is_file(), f"{page.relative_to(REPO)}: {target}"
            assert not anchor or anchor in anchors(linked), f"{page.relative_to(REPO)}: {target}"
            if linked.suffix == ".png":
                assert linked.stat().st_size < 150_000, linked
            checked += 1
    assert checked > 50


def test_the_settings_the_pages_name_exist_in_params_yaml():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    files = {"py", "csv", "json", "md", "parquet", "yaml", "txt", "png"}  # index.py, runs.csv: files, not settings
    named = {name for page in PAGES for name in SETTING.findall(page.read_text()) if name.split(".")[1] not in files}
    missing = [name for name in sorted(named) if name.split(".")[1] not in params[name.split(".")[0]]]
    assert len(named) > 25 and not missing, missing


def test_the_readme_is_a_front_page_and_every_page_says_what_it_is_for():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    for page in PAGES[1:]:
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not list {page.name}"
            first = page.read_text(encoding="utf-8").split("\n\n")[1]
            assert first.startswith("After this page you"), f"{page.name} does not start with what it is for"
    assert "](docs/README.md)" in readme and (REPO / "LICENSE").read_text().startswith("MIT License")
