"""Stage ``shard``: raw recordings → protocol-aligned WebDataset shards, one Dask task per shard.

    python -m pipeline.shard --dataset cefa [--root DIR] [--manifests DIR] [--out DIR]
                             [--workers N | --scheduler ADDRESS] [--decoder auto|pyav|decord]

Every option defaults to ``params.yaml`` (section ``shard``; the raw root from the ``raw`` mapping).
Writes ``<out>/*.tar`` and, in the manifest folder, ``samples.parquet``, ``rejects.parquet``,
``shards.parquet`` and ``splits.json`` (for every protocol split: its shard files and sample count).
``--out`` and ``--manifests`` may be URLs (``s3://bucket/prefix``: see :mod:`pipeline.storage`); the raw
data is read from a file system. A rerun redoes only unfinished shards.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from . import storage
from .cli import add_params_argument, add_verbosity_arguments, command, configure_logging, progress_enabled
from .datasets import DATASETS
from .errors import UsageError
from .format.splits import SPLITS_FILE, split_index
from .io import remove_temporaries
from .params import check_types, load_section, raw_root
from .plan import SHARD_NAME, ShardPlan, plan_shards, reject_row
from .protocols import load_spec
from .samples import SampleConfig
from .shard_task import PARTS, finished_part, part_path, write_shard
from .storage import Location
from .video import add_decoder_argument, resolve_decoder
from .windows import PLACEMENTS, Placement

log = logging.getLogger(__name__)

REJECT_COLUMNS = ["video_id", "window", "stage", "reason", "detail"]
SAMPLE_COLUMNS = [
    "key", "video_id", "window", "frames", "shard", "crop_method", "annotation_issue", "frame_gap", "sizes_vary",
    "sha256",
]


@dataclass(frozen=True)
class StageConfig:
    root: Path
    manifests: Location  # a folder or a URL (pipeline.storage)
    out: Location
    window_length: int = 7
    windows_per_recording: int = 4
    window_placement: str = "spread"
    window_start: int = 0
    window_stride: int = 5
    samples_per_shard: int = 256
    workers: int = 2
    scheduler: str | None = None
    retries: int = 2
    sample: SampleConfig = SampleConfig()
    dataset: str | None = None  # when given, the manifests must be this dataset's

    def __post_init__(self) -> None:
        """Refuse a bad setting before anything is read (inside a Dask task it would look like bad data)."""
        for name in ("manifests", "out"):  # a local path given as text becomes a Path, a URL stays text
            object.__setattr__(self, name, storage.as_location(getattr(self, name)))
        check_types("shard", self)
        at_least = {"window_length": 1, "windows_per_recording": 1, "window_start": 0, "window_stride": 1,
                    "samples_per_shard": 1, "workers": 0, "retries": 0}
        for name, least in at_least.items():
            if getattr(self, name) < least:
                setting = "shard.workers (--workers)" if name == "workers" else f"shard.{name}"
                what = "0 (run in this process) or more" if name == "workers" else f"{least} or more"
                raise UsageError(f"{setting} = {getattr(self, name)!r}: expected {what}")
        if self.window_placement not in PLACEMENTS:
            raise UsageError(f"shard.window_placement = {self.window_placement!r}: expected one of "
                             f"{', '.join(PLACEMENTS)}")

    @property
    def placement(self) -> Placement:
        return Placement(self.window_placement, self.window_start, self.window_stride)


#: The keys of params.yaml's shard section: the stage's settings and the two path templates.
SHARD_KEYS = (({f.name for f in fields(StageConfig)} - {"root", "sample", "dataset"})
              | {f.name for f in fields(SampleConfig)} | {"manifests", "out"})


@dataclass
class StageSummary:
    shards: int
    reused: int
    samples: int
    recordings: int
    rejected_recordings: int
    rejects_by_reason: dict[str, int]
    failed_shards: list[str]
    seconds: float


def run(config: StageConfig) -> StageSummary:
    """Plan, write the missing shards, and write the manifests. Tests call this directly."""
    started = time.perf_counter()
    for name in ("videos.parquet", "protocols.parquet"):
        if not storage.is_file(storage.join(config.manifests, name)):
            raise UsageError(f"{storage.join(config.manifests, name)} does not exist: run `python -m pipeline.index` "
                             "first")
    if not config.root.is_dir():
        raise UsageError(f"raw dataset root {config.root} does not exist (the dataset's line in params.yaml's "
                         "raw mapping, or --root)")
    videos = storage.read_parquet(storage.join(config.manifests, "videos.parquet"))
    protocols = storage.read_parquet(storage.join(config.manifests, "protocols.parquet"))
    found = sorted(set(videos["dataset"]))
    if config.dataset is not None and found != [config.dataset]:
        raise UsageError(f"{storage.join(config.manifests, 'videos.parquet')} holds {', '.join(found)} recordings, "
                         f"not {config.dataset}: pass the manifests of {config.dataset} (--manifests), or "
                         f"--dataset {found[0]}")
    plan = plan_shards(videos, protocols, config.window_length, config.windows_per_recording, config.samples_per_shard,
                       config.placement)
    storage.make_folder(storage.join(config.out, PARTS))
    tars = storage.files(config.out, ".tar")  # one listing, for the clean-up and the resume
    _remove_temporaries(config.out)
    _remove_old_shards(config.out, tars, {s.name for s in plan.shards})
    results, todo = _finished(plan.shards, tars, config), []
    for shard in plan.shards:
        if shard.name not in results:
            todo.append(shard)
    log.info("%d shards planned, %d already complete, %d to write → %s", len(plan.shards), len(results), len(todo),
             config.out)
    failed = []
    for name, result in _execute(todo, config):
        if isinstance(result, BaseException):
            log.error("shard %s failed: %s: %s", name, type(result).__name__, result)
            failed.append(name)
        else:
            results[name] = result
    _remove_temporaries(config.out)  # a worker killed mid-write leaves its temporary
    ordered = [results[s.name] for s in plan.shards if s.name in results]
    lost = [_failed_window(task.video["video_id"], window.index, shard.name)
            for shard in plan.shards if shard.name in failed for task in shard.recordings for window in task.windows]
    summary = _write_manifests(config, videos, protocols, ordered, plan.rejects + lost, failed)
    summary.reused = len(plan.shards) - len(todo)
    summary.seconds = time.perf_counter() - started
    return summary


def _failed_window(video_id: str, window: int, shard: str) -> dict[str, Any]:
    return reject_row(video_id, window, "shard", "task_failed",
                      f"shard {shard} failed (see the log); rerun to retry it")


def _finished(shards: list[ShardPlan], tars: dict[str, int], config: StageConfig) -> dict[str, dict[str, Any]]:
    """The saved results of the shards that are complete: of the listed ``tars`` (name → size), the parts
    are read together (concurrent requests to a store), so a resume costs a listing request per thousand
    objects and one read per finished shard, not a request per file."""
    parts = storage.read_many([part_path(config.out, s.name) for s in shards if f"{s.name}.tar" in tars])
    settings = config.sample.digest()  # once: it looks for detector weights on disk
    results = {}
    for shard in shards:
        done = finished_part(shard, parts.get(part_path(config.out, shard.name)), tars.get(f"{shard.name}.tar"),
                             settings, config.root)
        if done is not None:
            results[shard.name] = done
    return results


def _remove_temporaries(out: Location) -> None:
    """Temporary files of interrupted attempts are not outputs. A store holds no temporary names (uploads
    appear whole); a killed worker's local staging file is removed by the next shard task on its machine
    (``pipeline.storage.staging_file``)."""
    if isinstance(out, Path):
        remove_temporaries(out)
        remove_temporaries(out / PARTS)


def _remove_old_shards(out: Location, tars: dict[str, int], planned: set[str]) -> None:
    """Our shards of an older plan, among the listed ``tars``, are not outputs either. Only tars named like ours
    are touched: ``--out`` pointed at a folder of other files loses none."""
    for name in sorted(tars):
        stem = name[:-len(".tar")]
        if SHARD_NAME.fullmatch(stem) and stem not in planned:
            log.info("removing %s: not part of the current plan", name)
            storage.remove(storage.join(out, name))
            storage.remove(part_path(out, stem))


def _execute(todo: list[ShardPlan], config: StageConfig) -> Iterable[tuple[str, Any]]:
    """Yield (shard, result or exception) as shards finish, with a progress bar."""
    from tqdm import tqdm

    # the bar counts shards: a recording's windows can sit in several shards (SiW Protocol 1's frame rule)
    bar = tqdm(total=len(todo), unit="shard", desc="shard", disable=not (todo and progress_enabled()), file=sys.stderr)
    written = 0
    for name, result in _results(todo, config):
        written += 0 if isinstance(result, BaseException) else result["n_samples"]
        bar.update(1)
        bar.set_postfix(samples=written, refresh=False)
        yield name, result
    bar.close()


def _results(todo: list[ShardPlan], config: StageConfig) -> Iterable[tuple[str, Any]]:
    args = (str(config.root.resolve()), storage.absolute(config.out), config.sample, storage.configured())
    if not todo:
        return
    if config.workers == 0 and config.scheduler is None:
        for shard in todo:  # in-process: for debugging and profiling
            result: dict[str, Any] | Exception
            try:
                result = write_shard(shard, *args)
            except Exception as error:  # as under Dask: this shard fails, the others are still written
                result = error
            yield shard.name, result
        return
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if config.scheduler:
        client = Client(config.scheduler)
    else:
        cluster = LocalCluster(n_workers=config.workers, threads_per_worker=1, processes=True,
                               dashboard_address=_dashboard())
        client = Client(cluster)
    try:
        if client.dashboard_link and _dashboard():
            log.info("Dask dashboard: %s", client.dashboard_link)
        futures = {
            client.submit(write_shard, shard, *args, key=f"shard-{shard.name}", retries=config.retries,
                          pure=False): shard.name
            for shard in todo
        }
        for future in as_completed(futures):
            if future.status == "finished":
                yield futures[future], future.result()
            elif future.status == "error":
                yield futures[future], future.exception()
            else:  # cancelled: the scheduler restarted or lost it
                yield futures[future], RuntimeError(f"task {future.key} ended {future.status}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dashboard() -> str | None:
    """Serve the dashboard only when bokeh is installed (distributed needs it for that)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return None
    return ":0"


def _write_manifests(config, videos, protocols, results, plan_rejects, failed) -> StageSummary:
    samples = pd.DataFrame([row for r in results for row in r["samples"]], columns=SAMPLE_COLUMNS)
    rejects = pd.DataFrame(plan_rejects + [row for r in results for row in r["rejects"]], columns=REJECT_COLUMNS)
    rejects["window"] = rejects["window"].astype("Int64")
    missing = set(videos["video_id"]) - set(samples["video_id"]) - set(rejects["video_id"])
    if missing:
        raise RuntimeError(f"recordings neither sharded nor rejected: {sorted(missing)[:5]}")
    shards = pd.DataFrame(
        [{k: r[k] for k in ("shard", "signature", "n_samples", "n_bytes")} for r in results],
        columns=["shard", "signature", "n_samples", "n_bytes"],
    )
    manifests = config.manifests
    storage.write_parquet(storage.join(manifests, "samples.parquet"), samples.sort_values("key", ignore_index=True))
    storage.write_parquet(storage.join(manifests, "rejects.parquet"),
                          rejects.sort_values(["video_id", "stage"], ignore_index=True))
    storage.write_parquet(storage.join(manifests, "shards.parquet"), shards)
    splits = storage.join(manifests, SPLITS_FILE)
    if failed:  # an index without the failed shards would let training read partial splits
        storage.remove(splits)
    else:
        modalities, aliases = split_settings(protocols, videos)
        labels = samples[["video_id", "shard"]].merge(videos[["video_id", "is_bonafide"]], on="video_id")
        bonafide = labels.groupby("shard")["is_bonafide"].sum()  # what a loader balancing classes reads them by
        rows = [row | {"n_bonafide": int(bonafide.get(row["shard"], 0))} for row in shards.to_dict("records")]
        document = split_index(rows, config.out, modalities, aliases, config.sample.crop_size,
                               str(videos["dataset"].iloc[0]))
        storage.write_json(splits, document)
    rejected = set(rejects["video_id"]) - set(samples["video_id"])
    return StageSummary(
        shards=len(shards), reused=0, samples=len(samples), recordings=len(videos),
        rejected_recordings=len(rejected), rejects_by_reason=rejects["reason"].value_counts().to_dict(),
        failed_shards=sorted(failed), seconds=0.0,
    )


def split_settings(protocols: pd.DataFrame, videos: pd.DataFrame) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """What splits.json tells a loader besides the shards: each split's modalities (from protocols.parquet)
    and each protocol's aliases (from the dataset's protocol definitions)."""
    modalities = {f"{row.protocol}/{row.split}": list(row.modalities)
                  for row in protocols.drop_duplicates(["protocol", "split"]).itertuples(index=False)}
    datasets = set(videos["dataset"])
    aliases: dict[str, list[str]] = {}
    for dataset in sorted(datasets):
        spec = load_spec(dataset)
        aliases |= {name: list(protocol.aliases) for name, protocol in spec.protocols.items()}
    return modalities, aliases


def config_from_args(args: argparse.Namespace, params: dict[str, Any], root: Path | None = None) -> StageConfig:
    """The stage's settings: the command line's, else the ``shard`` section's, else the built-in defaults;
    ``root`` is the dataset's raw root from params.yaml's ``raw`` mapping when ``--root`` is not given."""
    values = {**params, **{k: v for k, v in vars(args).items() if v is not None}}
    for name in ("manifests", "out"):
        if values.get(name) is None:
            raise UsageError(f"no --{name} given and no params.yaml with a shard.{name} setting: pass --{name} DIR "
                             "(or URL)")
    root = Path(values["root"]) if values.get("root") is not None else root
    if root is None:
        raise UsageError("no raw root: pass --root, or give the dataset a line in params.yaml's raw mapping")
    try:
        sample = SampleConfig(**{f.name: values[f.name] for f in fields(SampleConfig) if f.name in values})
    except ValueError as error:
        raise UsageError(str(error)) from None
    resolve_decoder(sample.decoder)  # a decoder that is not installed here: one line now, not a failed task later
    stage = {f.name: values[f.name] for f in fields(StageConfig)
             if f.name in values and f.name not in ("root", "manifests", "out", "sample", "dataset")}
    manifests, out = (storage.as_location(str(values[name]).format(dataset=args.dataset))
                      for name in ("manifests", "out"))
    return StageConfig(root=root, manifests=manifests, out=out, sample=sample, dataset=args.dataset, **stage)


def format_summary(summary: StageSummary, config: StageConfig) -> str:
    """The one-screen account of a run: what went in, what came out, where, what was rejected, how long."""
    kept = summary.recordings - summary.rejected_recordings
    lines = [
        f"  recordings  {summary.recordings} ({kept} with samples, {summary.rejected_recordings} wholly rejected)",
        f"  samples     {summary.samples}",
        f"  shards      {summary.shards} ({summary.reused} reused) in {config.out}",
        f"  manifests   {config.manifests}",
    ]
    reasons = sorted(summary.rejects_by_reason.items(), key=lambda item: (-item[1], item[0]))
    lines.append(f"  rejects     {sum(summary.rejects_by_reason.values())} "
                 "(windows or recordings, see rejects.parquet)")
    lines += [f"    {reason:<20} {count}" for reason, count in reasons]
    if summary.failed_shards:
        lines.append(f"  failed      {len(summary.failed_shards)} shards: {', '.join(summary.failed_shards)}")
    lines.append(f"  time        {summary.seconds:.1f} s")
    return "\n".join(lines)


@command("python -m pipeline.shard")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.shard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="the dataset the manifests describe")
    parser.add_argument("--root", help="raw dataset root (default: the dataset's line in params.yaml raw)")
    parser.add_argument("--manifests",
                        help="folder or URL (s3://bucket/prefix) with videos.parquet and protocols.parquet, where "
                             "the stage's manifests go too (default: shard.manifests)")
    parser.add_argument("--out", help="folder or URL (s3://bucket/prefix, any fsspec URL) for the .tar shards "
                                      "(default: shard.out)")
    parser.add_argument("--workers", type=int, help="local Dask worker processes, one thread each; 0 runs in this "
                                                    "process (default: shard.workers)")
    parser.add_argument("--scheduler", help="address of an existing Dask scheduler (tcp://host:8786) to run on "
                                            "instead of local workers")
    add_decoder_argument(parser)
    add_params_argument(parser, "defaults (and the storage section)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any recording or window is rejected")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(args)
    params = load_section("shard", args.params, known=SHARD_KEYS)
    storage.configure(load_section("storage", args.params))
    root = None if args.root else raw_root(args.dataset, args.params)
    strict = args.strict
    del args.params, args.strict, args.quiet, args.verbose
    config = config_from_args(args, params, root)
    log.info("sharding %s → %s (manifests in %s)", config.root, config.out, config.manifests)
    summary = run(config)
    log.info("summary of %s\n%s", args.dataset, format_summary(summary, config))
    if summary.failed_shards:
        log.error("%d shards failed: %s — rerun to retry them", len(summary.failed_shards), summary.failed_shards)
        return 1
    if strict and summary.rejects_by_reason:
        log.error("--strict: rejects %s (see rejects.parquet)", summary.rejects_by_reason)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
