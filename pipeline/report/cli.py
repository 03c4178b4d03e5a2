"""The command line of ``python -m pipeline.report`` (see :mod:`pipeline.report`)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .build import ReportConfig, build_report
from ..cli import add_verbosity_arguments, configure_logging
from ..params import dataset_path, load_section, raw_root

log = logging.getLogger("pipeline.report")


def config_from_args(args: argparse.Namespace, params: dict, root: Path) -> ReportConfig:
    """Paths from the command line, else the ``shard`` section's; ``root``: the raw root (--root, else ``raw``'s)."""
    def pick(name: str, template: str) -> Path:
        value = getattr(args, name)
        return Path(value) if value else dataset_path(template, args.dataset)

    return ReportConfig(
        dataset=args.dataset, root=root, manifests=pick("manifests", params["manifests"]),
        shards=pick("shards", params["out"]), out=pick("out", "reports/{dataset}"), per_type=args.per_type,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report",
                                     description="Write the dataset report: contact sheets, plots and one HTML page")
    parser.add_argument("--dataset", required=True, help="cefa, surf, oulu or siw")
    parser.add_argument("--root", help="raw dataset root, for rejected recordings' frames (default: the dataset's "
                                       "line in params.yaml raw)")
    parser.add_argument("--manifests", help="manifest folder (default: shard.manifests)")
    parser.add_argument("--shards", help="folder of the .tar shards (default: shard.out)")
    parser.add_argument("--out", help="report folder (default: reports/<dataset>)")
    parser.add_argument("--per-type", type=int, default=8, dest="per_type", help="recordings per attack-type sheet")
    parser.add_argument("--params", type=Path, help="params.yaml to read the shard section's paths from")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    root = Path(args.root) if args.root else raw_root(args.dataset, args.params)
    config = config_from_args(args, load_section("shard", args.params), root)
    try:
        result = build_report(config)
    except FileNotFoundError as error:
        log.error("%s", error)
        return 2
    sheets = "\n".join(f"    {path}" for path in result.sheet_paths.values())
    log.info("report of %s in %.1f s\n  page    %s\n  sheets\n%s\n  plots   %s", config.dataset, result.seconds,
             result.html, sheets, config.out / "plots")
    return 0

