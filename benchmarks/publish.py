"""Copy what the commands measured into the docs: the benchmarks' RESULT lines, and the demo's results tables.

    python benchmarks/publish.py [--bench LOG] [--runs DIR] [--check]       (make publish BENCH_LOG=… RUNS=…)

``--bench LOG``: a saved ``make bench`` output; what it measured (less data preparation and progress bars) becomes
``benchmarks/last-run.txt``.
``--runs DIR``: evaluated runs (``models/`` after ``dvc exp run -S 'runs.seeds=[0,1,2]'``); each run's per-video
scores (the score schema's columns) become ``docs/demo-scores/<dataset>-<protocol>-<seed>/``.
Then the marked blocks of ``docs/performance.md``, ``docs/results.md`` and ``README.md`` are written from those
committed files: the table of the RESULT lines and the whole output, and the tables ``python -m training.results
--scores docs/demo-scores`` makes (the same as from the runs themselves: a score folder is evaluated exactly as
``training.evaluate`` evaluates a run), the README taking each dataset's first table.
So a number in those blocks is never typed by hand, and ``--check`` (run by ``tests/test_docs.py``) fails where a
block differs from what its sources give: an edit by hand, or code that now computes or prints it differently.
"""
from __future__ import annotations

import argparse
import csv
import logging
import re
import shutil
import sys
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as `python benchmarks/publish.py`: the repository's packages first
    sys.path.insert(0, str(REPO))

from training.aggregate import aggregate, lines_found  # noqa: E402
from training.results import scored_runs  # noqa: E402
from training.results_md import render  # noqa: E402
from training.scores import SCORE_COLUMNS  # noqa: E402
from training.tables import load_tables  # noqa: E402

#: The committed sources of the generated blocks, relative to the repository's root.
LAST_RUN = "benchmarks/last-run.txt"
DEMO_SCORES = "docs/demo-scores"
METHOD = "SD-Net (ours)"
#: ``RESULT name: 1.23x  (target >= 1.7x: NOT met)  figures`` (benchmarks/common.py's verdict), or another note in
#: the brackets (gpu_train.py's ``(1.0 = the loader keeps the device fed)``)
RESULT = re.compile(r"^RESULT (?P<name>.+?): (?P<ratio>[\d.]+)x  \((?P<note>[^)]*)\)  (?P<figures>.*)$")
TARGET = re.compile(r"^target (?P<op>[<>]=) (?P<target>[\d.]+)x: (?P<state>met|NOT met)$")
HEADER = re.compile(r"^== (?P<title>.+) ==  \((?P<machine>.+)\)$")


@dataclass(frozen=True)
class Block:
    """A generated part of a page (relative to the root), between ``<!-- name: … -->`` and ``<!-- /name -->``."""

    page: str
    name: str

    def replaced(self, text: str, body: str) -> str:
        pattern = re.compile(rf"(<!-- {self.name}: [^\n]*-->\n).*?(<!-- /{self.name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{self.page}: no <!-- {self.name}: … --> … <!-- /{self.name} --> block")
        return pattern.sub(lambda match: f"{match.group(1)}\n{body.strip()}\n\n{match.group(2)}", text)


BENCH_BLOCK = Block("docs/performance.md", "benchmarks")
RESULTS_BLOCK = Block("docs/results.md", "demo-results")
HEADLINE_BLOCK = Block("README.md", "demo-results-head")


def bench_lines(log: str) -> list[str]:
    """What a ``make bench`` output says it measured: every line from the first benchmark's header on, less the
    data preparation's (``(preparing: …)``, which name this machine's paths) and progress bars."""
    lines = [line.rstrip() for line in log.splitlines() if "\r" not in line and "(preparing: " not in line]
    first = next((i for i, line in enumerate(lines) if HEADER.match(line)), None)
    if first is None or not any(RESULT.match(line) for line in lines):
        raise SystemExit("no benchmark header or RESULT line in the log: give the whole output of make bench")
    return lines[first:]


def performance_block(lines: list[str]) -> str:
    """A table of the RESULT lines under the benchmark that printed them, the machine the headers name, and the
    whole output below it."""
    machines = sorted({match["machine"] for line in lines if (match := HEADER.match(line))})
    rows = ["| benchmark | ratio | target | measured |", "| --- | --- | --- | --- |"]
    for line in lines:
        if (header := HEADER.match(line)) is not None:
            rows.append(f"| **{header['title']}** | | | |")
        elif (result := RESULT.match(line)) is not None:
            rows.append(f"| {result['name']} | {result['ratio']}× | {_target(result['note'])} | "
                        f"{result['figures'].replace('|', '/')} |")
    output = "\n".join(lines)
    return (f"Measured on {'; '.join(machines)} (`benchmarks/last-run.txt`).\n\n" + "\n".join(rows) + "\n\n"
            f"<details><summary>The whole output</summary>\n\n```text\n{output}\n```\n\n</details>\n")


def _target(note: str) -> str:
    """``target >= 1.7x: NOT met`` → ``≥ 1.7×: **not met**``; any other note as it is."""
    target = TARGET.match(note)
    if target is None:
        return note
    state = "met" if target["state"] == "met" else "**not met**"
    return f"{'≥' if target['op'] == '>=' else '≤'} {target['target']}×: {state}"


def copy_scores(runs: Path, out: Path) -> list[Path]:
    """Each evaluated run's two score files under ``runs``, with the score schema's columns only, into
    ``out/<dataset>-<protocol>-<seed>/`` (``out`` emptied first); the folders written."""
    from training.results import SCORE_FILES, evaluated_runs

    found = evaluated_runs(runs)
    if not found:
        raise SystemExit(f"no evaluated run under {runs}")
    shutil.rmtree(out, ignore_errors=True)
    folders = []
    for run in found:
        folder = out / f"{run.dataset}-{run.protocol}-{run.seed}"
        folder.mkdir(parents=True)
        for name in SCORE_FILES:
            _copy_columns(Path(run.source).parent / name, folder / name, SCORE_COLUMNS)
        folders.append(folder)
    return folders


def _copy_columns(source: Path, target: Path, columns: tuple[str, ...]) -> None:
    with source.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    with target.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def results_block(scores: Path) -> str:
    """What ``training.results --scores`` writes into ``results.md`` from ``scores``, below its title, with each
    section a level lower to sit inside the page."""
    tables = load_tables()
    runs = scored_runs(scores, "eer", tables)
    page = render(aggregate(runs, lines_found(runs, tables), tables), tables, METHOD)
    body = page.split("\n", 2)[2]  # below "# Results" and its blank line
    return re.sub(r"^## ", "### ", body, flags=re.M)


def headline_tables(results: str) -> str:
    """The README's excerpt of :func:`results_block`: each dataset's title and its table shaped like the papers'."""
    parts = []
    for section in results.split("\n### ")[1:]:
        title, _, body = section.partition("\n")
        table = ("| Protocol | Method |" + body.split("\n| Protocol | Method |", 1)[1]).splitlines()
        rows = takewhile(lambda line: line.startswith("|"), table)
        parts.append(f"**{title}**\n\n" + "\n".join(rows))
    return "\n\n".join(parts)


def expected_pages(root: Path = REPO) -> dict[Path, str]:
    """Every page with a generated block, as the committed sources under ``root`` make it."""
    results = results_block(root / DEMO_SCORES)
    bench = performance_block((root / LAST_RUN).read_text(encoding="utf-8").splitlines())
    pages: dict[Path, str] = {}
    for block, body in ((BENCH_BLOCK, bench), (RESULTS_BLOCK, results), (HEADLINE_BLOCK, headline_tables(results))):
        page = root / block.page
        pages[page] = block.replaced(pages.get(page, page.read_text(encoding="utf-8")), body)
    return pages


def stale_pages(root: Path = REPO) -> list[Path]:
    """The pages whose generated blocks differ from what their committed sources make."""
    return [page for page, text in expected_pages(root).items() if page.read_text(encoding="utf-8") != text]


def publish(root: Path = REPO, bench: Path | None = None, runs: Path | None = None) -> list[Path]:
    """Copy a bench log and evaluated runs (either may be None) into the sources, then write every generated block
    from the sources; the pages written."""
    if bench is not None:
        lines = bench_lines(bench.read_text(encoding="utf-8"))
        (root / LAST_RUN).write_text("\n".join(lines) + "\n", encoding="utf-8")
    if runs is not None:
        copy_scores(runs, root / DEMO_SCORES)
    pages = expected_pages(root)
    for page, text in pages.items():
        page.write_text(text, encoding="utf-8")
    return list(pages)


def main(argv: list[str] | None = None, root: Path = REPO) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, help="a saved make bench output, published as benchmarks/last-run.txt")
    parser.add_argument("--runs", type=Path, help="folder of evaluated runs (models/), whose scores are published as "
                                                  "docs/demo-scores/")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 where a page differs from what its committed sources make")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")  # not the runs' own notes (a fold on its own line)
    if args.check:
        stale = stale_pages(root)
        for page in stale:
            print(f"{page.relative_to(root)}: its generated block differs from what its sources make: "
                  "run make publish", file=sys.stderr)
        return 1 if stale else 0
    for page in publish(root, args.bench, args.runs):
        print(f"wrote {page.relative_to(root)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
