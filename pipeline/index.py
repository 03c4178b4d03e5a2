"""Stage ``index``: scan a raw tree into ``videos.parquet`` and apply the protocols into ``protocols.parquet``.

    python -m pipeline.index --dataset cefa --root data/raw/cefa --out manifests/cefa [--lists DIR]

No pixel is decoded. Names that do not parse are reported (``index_report.json``) and skipped. The
official list files (``--lists``, default ``index.lists`` of ``params.yaml``, ``{root}/lists``) are read
too and every difference from the rules is reported; ``--use-lists`` (default ``index.use_lists``) makes
the lists the membership of the protocols they cover. The default list folder may be absent (a warning);
one given on the command line must exist.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import storage
from .cli import add_params_argument, add_verbosity_arguments, command, configure_logging
from .datasets import DATASETS, get_adapter
from .datasets.listfiles import ListFormatError
from .datasets.records import ListEntry, Problem, Recording, Scan
from .errors import UsageError
from .params import load_section
from .paths import escapes_root
from .protocols import PROTOCOL_COLUMNS, ProtocolError, ProtocolSpec, apply_spec, check_membership, load_spec

log = logging.getLogger(__name__)


@dataclass
class IndexResult:
    videos: pd.DataFrame
    protocols: pd.DataFrame
    problems: list[Problem]
    notes: list[Problem] = field(default_factory=list)
    list_differences: list[dict] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def videos_table(recordings: list[Recording]) -> pd.DataFrame:
    """``videos.parquet``: one row per recording, attributes as typed (nullable) columns, sorted by id."""
    table = pd.DataFrame([r.to_row() for r in recordings])
    if table.empty:
        return table
    for column in table.columns:
        if column.startswith("n_frames_") or pd.api.types.is_float_dtype(table[column]):
            table[column] = table[column].astype("Int64")  # ints that are missing for some rows
    return table.sort_values("video_id", ignore_index=True)


def drop_duplicate_ids(scan: Scan) -> list[Recording]:
    """Keep the first recording of each id (sorted by path); report the others."""
    kept: dict[str, Recording] = {}
    for recording in sorted(scan.recordings, key=lambda r: (r.video_id, sorted(r.paths.values()))):
        if recording.video_id in kept:
            first = kept[recording.video_id]
            detail = f"id {recording.video_id!r} already used by {sorted(first.paths.values())[0]}"
            scan.add(problem=Problem(sorted(recording.paths.values())[0], "duplicate_id", detail))
        else:
            kept[recording.video_id] = recording
    return list(kept.values())


def membership_from_lists(spec: ProtocolSpec, entries: list[ListEntry]) -> pd.DataFrame:
    """Protocol membership rows for list entries (modalities and frame rule from the spec's split)."""
    rows = []
    for entry in entries:
        rule = spec.protocols[spec.resolve(entry.protocol)].splits[entry.split]
        rows.append((spec.resolve(entry.protocol), entry.split, entry.video_id, list(rule.modalities),
                     rule.frame_limit))
    table = pd.DataFrame(rows, columns=PROTOCOL_COLUMNS).drop_duplicates(["protocol", "split", "video_id"])
    table["frame_limit"] = table["frame_limit"].astype("Int64")
    return table.sort_values(["protocol", "split", "video_id"], ignore_index=True)


def compare_with_lists(
    spec: ProtocolSpec, videos: pd.DataFrame, membership: pd.DataFrame, entries: list[ListEntry]
) -> list[dict]:
    """Every difference between official lists and the derived membership, per protocol split."""
    labels = dict(zip(videos["video_id"], videos["is_bonafide"])) if not videos.empty else {}
    listed: dict[tuple[str, str], dict[str, bool]] = {}
    for entry in entries:
        listed.setdefault((spec.resolve(entry.protocol), entry.split), {})[entry.video_id] = entry.is_bonafide
    differences = []
    for (protocol, split), from_list in sorted(listed.items()):
        derived = set(membership.loc[(membership["protocol"] == protocol) & (membership["split"] == split), "video_id"])
        on_disk = {v for v in from_list if v in labels}
        report = {
            "protocol": protocol,
            "split": split,
            "missing_on_disk": sorted(set(from_list) - set(labels)),
            "only_in_lists": sorted(on_disk - derived),
            "only_in_rules": sorted(derived - set(from_list)),
            "label_mismatch": sorted(v for v in on_disk if bool(labels[v]) != from_list[v]),
        }
        if any(report[key] for key in ("missing_on_disk", "only_in_lists", "only_in_rules", "label_mismatch")):
            differences.append(report)
    return differences


def build_index(dataset: str, root: Path, lists_dir: Path | None = None, use_lists: bool = False,
                annotations: Path | None = None) -> IndexResult:
    """Scan, validate and apply protocols; pure apart from reading the raw tree and the lists.

    ``annotations``: a folder of face files for a release that ships none (the adapter's ``ANNOTATIONS``)."""
    adapter = get_adapter(dataset)
    spec = load_spec(dataset)
    if annotations is not None and not hasattr(adapter, "ANNOTATIONS"):
        raise ValueError(f"{dataset} takes no annotations folder: its release ships its own face information")
    scan = adapter.scan(root) if annotations is None else adapter.scan(root, annotations=annotations)
    videos = videos_table(drop_duplicate_ids(scan))
    if videos.empty:
        raise ProtocolError(f"no valid recording found under {root} for dataset {dataset!r}: {dataset} expects "
                            f"{adapter.LAYOUT}")
    present = set(videos["video_id"])
    if scan.memberships:  # the release defines its own membership (anonymised challenge folders)
        protocols = membership_from_lists(spec, [e for e in scan.memberships if e.video_id in present])
    else:
        protocols = apply_spec(spec, videos)
    result = IndexResult(videos=videos, protocols=protocols, problems=scan.problems, notes=scan.notes)
    if lists_dir is not None:
        entries = adapter.read_lists(lists_dir)
        if not entries:
            raise ProtocolError(f"--lists {lists_dir}: no {dataset} list file found there")
        result.list_differences = compare_with_lists(spec, videos, protocols, entries)
        if use_lists:
            covered = {(spec.resolve(e.protocol), e.split) for e in entries}
            keep = [(p, s) not in covered for p, s in zip(protocols["protocol"], protocols["split"])]
            listed = [e for e in entries if e.video_id in present]
            result.protocols = pd.concat([protocols[keep], membership_from_lists(spec, listed)], ignore_index=True)
    result.violations = check_membership(spec, videos, result.protocols)
    return result


def write_index(result: IndexResult, out: str | Path, dataset: str, argv: list[str]) -> None:
    """Write the report always, and the manifests only when no protocol is violated; ``out`` is a folder or a
    URL (``s3://bucket/manifests/cefa``: :mod:`pipeline.storage`)."""
    storage.make_folder(out)
    if result.violations:  # a refused index leaves no manifest behind, not even an older one
        for name in ("videos.parquet", "protocols.parquet"):
            storage.remove(storage.join(out, name))
    else:
        storage.write_parquet(storage.join(out, "videos.parquet"), result.videos)
        storage.write_parquet(storage.join(out, "protocols.parquet"), result.protocols)
    report = {
        "dataset": dataset,
        "command": argv,
        "recordings": len(result.videos),
        "membership_rows": len(result.protocols),
        "problems": [p.to_row(dataset) for p in result.problems],
        "notes": [p.to_row(dataset) for p in result.notes],
        "list_differences": result.list_differences,
        "violations": result.violations,
    }
    storage.write_json(storage.join(out, "index_report.json"), report)


@command("python -m pipeline.index")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.index", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which dataset's layout and names to read")
    parser.add_argument("--root", required=True, type=Path,
                        help="raw dataset root (the folder holding e.g. CASIA_CeFA/)")
    parser.add_argument("--out", required=True, type=storage.as_location,
                        help="manifest folder or URL (s3://bucket/manifests/cefa) to write")
    parser.add_argument("--lists", type=Path, help="folder of official protocol list files to cross-check "
                                                   "(default: index.lists of params.yaml)")
    parser.add_argument("--use-lists", action=argparse.BooleanOptionalAction, default=None,
                        help="take membership from the lists where they cover a split, the rules filling the rest "
                             "(default: index.use_lists of params.yaml)")
    parser.add_argument("--annotations", type=Path,
                        help="for a release that ships no face annotations, a folder of them inside --root "
                             "(casia_fasd: bob.db.casia_fasd's face-locations/, a .face file per video) "
                             "(default: the dataset's index.annotations of params.yaml, where that folder exists)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any file was skipped or a list differs")
    add_params_argument(parser, "the index section (lists, use_lists, annotations) and the storage section")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    storage.configure(load_section("storage", args.params))
    if not args.root.is_dir():
        raise UsageError(f"--root {args.root} does not exist; {args.dataset} expects a folder holding "
                         f"{get_adapter(args.dataset).LAYOUT}")
    if args.lists is not None and not args.lists.is_dir():
        raise UsageError(f"--lists {args.lists}: no such folder")
    if args.annotations is not None:
        check_annotations(args.dataset, args.root, args.annotations)
    else:
        args.annotations = default_annotations(args.dataset, args.root, args.params)
    lists = args.lists if args.lists is not None else default_lists(args.root, args.params)
    if args.use_lists is None:
        args.use_lists = default_use_lists(args.params)
        if args.use_lists and lists is None:
            raise UsageError(f"index.use_lists is true but {args.root} has no official lists where index.lists "
                             "says: put them there, pass --lists DIR, or set index.use_lists: false")
    if args.use_lists and lists is None:
        raise UsageError("--use-lists needs the official lists: pass --lists DIR")
    try:
        result = build_index(args.dataset, args.root, lists, args.use_lists, args.annotations)
    except (ProtocolError, ListFormatError) as error:  # no recording found, a malformed list line
        raise UsageError(str(error)) from None
    write_index(result, args.out, args.dataset, sys.argv if argv is None else argv)
    _log_summary(result, args.out)
    if result.violations:
        for violation in result.violations:
            log.error("refused: %s", violation)
        return 1
    if args.strict and (result.problems or result.list_differences):
        log.error("--strict: %d skipped files, %d list differences (see index_report.json)",
                  len(result.problems), len(result.list_differences))
        return 1
    return 0


def check_annotations(dataset: str, root: Path, annotations: Path) -> None:
    """``--annotations`` must suit the dataset, exist, and lie inside the raw root (the shard stage reads only
    under it); else one line says what to do."""
    adapter = get_adapter(dataset)
    if not hasattr(adapter, "ANNOTATIONS"):
        raise UsageError(f"--annotations: {dataset} ships its own face information; the option is for "
                         f"{', '.join(d for d in DATASETS if hasattr(get_adapter(d), 'ANNOTATIONS'))}")
    if not annotations.is_dir():
        raise UsageError(f"--annotations {annotations}: no such folder (expected {adapter.ANNOTATIONS})")
    if escapes_root(os.path.relpath(os.path.abspath(annotations), os.path.abspath(root))):
        raise UsageError(f"--annotations {annotations} is outside --root {root}: the shard stage reads only under "
                         f"the raw root; put the folder (or a link to it) there, e.g. {root / 'face-locations'}")


INDEX_KEYS = {"lists", "use_lists", "annotations"}


def default_lists(root: Path, params: Path | None) -> Path | None:
    """The list folder ``index.lists`` names for ``root``, when it exists (a release may ship none)."""
    template = load_section("index", params, known=INDEX_KEYS).get("lists")
    if template is None:
        return None
    folder = Path(str(template).format(root=root))
    if not folder.is_dir():
        log.warning("no official lists at %s (index.lists): protocol membership from the rules alone, unchecked",
                    folder)
        return None
    return folder


def default_use_lists(params: Path | None) -> bool:
    """``index.use_lists``: whether the lists, not the rules, make the membership of the splits they cover."""
    value = load_section("index", params, known=INDEX_KEYS).get("use_lists", False)
    if not isinstance(value, bool):
        raise UsageError(f"index.use_lists of params.yaml is {value!r}: set it to true or false")
    return value


def default_annotations(dataset: str, root: Path, params: Path | None) -> Path | None:
    """The annotation folder ``index.annotations`` names for ``dataset`` under ``root``, when it exists (bob's
    face files are a download of their own that a user may not have: the detector then finds the faces)."""
    templates = load_section("index", params, known=INDEX_KEYS).get("annotations") or {}
    if dataset not in templates:
        return None
    folder = Path(str(templates[dataset]).format(root=root))
    if not folder.is_dir():
        log.warning("no face annotations at %s (index.annotations): a detector finds the faces", folder)
        return None
    check_annotations(dataset, root, folder)
    return folder


def _log_summary(result: IndexResult, out: str | Path) -> None:
    counts = result.videos.groupby("attack_type").size().to_dict()
    log.info("%d recordings %s → %s", len(result.videos), counts, out)
    log.info("%d protocol memberships over %d protocols", len(result.protocols), result.protocols["protocol"].nunique())
    for problem in result.problems:
        log.warning("skipped %s: %s (%s)", problem.path, problem.reason, problem.detail)
    for note in result.notes:
        log.info("noted %s: %s (%s)", note.path, note.reason, note.detail)
    for difference in result.list_differences:
        summary = {k: len(v) for k, v in difference.items() if isinstance(v, list) and v}
        log.warning("lists differ for protocol %s/%s: %s", difference["protocol"], difference["split"], summary)


if __name__ == "__main__":
    raise SystemExit(main())
