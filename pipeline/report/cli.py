"""The command line of ``python -m pipeline.report`` (see :mod:`pipeline.report`)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .build import ReportConfig, build_report
from .. import storage
from ..cli import add_params_argument, add_verbosity_arguments, command, configure_logging
from ..datasets import DATASETS
from ..errors import UsageError
from ..params import load_section, raw_root
from ..storage import Location
from ..video import DECODE_TIMEOUT, add_decoder_argument, resolve_decoder

log = logging.getLogger("pipeline.report")


def config_from_args(args: argparse.Namespace, params: dict, root: Path) -> ReportConfig:
    """Paths from the command line, else the ``shard`` section's; ``root``: ``--root``, else the raw root from
    ``raw``. The manifests and shards may be URLs; the report itself is written to a local folder."""
    def pick(name: str, template: str | None) -> Location:
        value = getattr(args, name)
        if value:
            return storage.as_location(value)
        if template is None:
            raise UsageError(f"no --{name} given and no params.yaml with the shard section's path: pass --{name} DIR")
        return storage.as_location(template.format(dataset=args.dataset))

    if args.per_type < 1:
        raise UsageError(f"--per-type {args.per_type}: at least one recording per sheet")
    decoder = args.decoder or params.get("decoder", "auto")
    resolve_decoder(decoder)
    return ReportConfig(
        dataset=args.dataset, root=root,
        manifests=pick("manifests", params.get("manifests")), shards=pick("shards", params.get("out")),
        out=args.out or Path("reports", args.dataset), per_type=args.per_type, decoder=decoder,
        decode_timeout=params.get("decode_timeout", DECODE_TIMEOUT),
    )


@command("python -m pipeline.report")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.report",
                                     description="Write the dataset report: contact sheets, plots and one HTML page")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="the dataset the manifests describe")
    parser.add_argument("--root", help="raw dataset root, for rejected recordings' frames (default: the dataset's "
                                       "line in params.yaml raw)")
    parser.add_argument("--manifests", help="manifest folder or URL (default: shard.manifests)")
    parser.add_argument("--shards", help="folder or URL (s3://bucket/prefix) of the .tar shards (default: shard.out)")
    parser.add_argument("--out", type=storage.local_folder, help="local report folder (default: reports/<dataset>)")
    parser.add_argument("--per-type", type=int, default=8, dest="per_type",
                        help="recordings per attack-type sheet (default: 8)")
    add_decoder_argument(parser)
    add_params_argument(parser, "the shard section's paths and decoder, and the storage section,")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    root = Path(args.root) if args.root else raw_root(args.dataset, args.params)
    storage.configure(load_section("storage", args.params))
    config = config_from_args(args, load_section("shard", args.params), root)
    if not storage.is_dir(config.shards):
        raise UsageError(f"shard folder {config.shards} does not exist: run python -m pipeline.shard first (or pass "
                         "--shards DIR)")
    result = build_report(config)
    sheets = "\n".join(f"    {path}" for path in result.sheet_paths.values())
    log.info("report of %s in %.1f s\n  page    %s\n  sheets\n%s\n  plots   %s", config.dataset, result.seconds,
             result.html, sheets, config.out / "plots")
    return 0

