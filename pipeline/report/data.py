"""What the dataset report counts and shows, read from the manifests, the shards and the raw frames.

Tar members are read as bytes and only images and JSON are decoded (nothing is unpickled); a shard is
read in one pass that keeps every sample's JSON (for the crop and frame sizes) and the images of the few
samples that go on the contact sheets, seeking over the other images.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .. import storage
from ..cli import progress_enabled
from ..datasets.records import MODALITIES, manifest_frame_numbers
from ..format.members import split_member_name
from ..format.tars import tar_members
from ..frames import DecodeError, open_source
from ..paths import escapes_root
from ..protocols import SPLITS
from ..storage import Location
from ..windows import frame_step

log = logging.getLogger(__name__)

MANIFESTS = ("videos", "protocols", "samples", "rejects", "shards")
#: Columns that identify or locate a recording rather than describe it.
NOT_ATTRIBUTES = {"video_id", "dataset", "subject", "is_bonafide", "annotation_path", "n_frames_paired"}
PER_MODALITY_COLUMNS = ("path_", "n_frames_", "frame_numbers_", "missing_frames_")
#: Above this many distinct values a column is an identifier (subject ids, file numbers), not a grouping.
MAX_ATTRIBUTE_VALUES = 40
NONE = "(none)"


@dataclass
class Manifests:
    videos: pd.DataFrame
    protocols: pd.DataFrame
    samples: pd.DataFrame
    rejects: pd.DataFrame
    shards: pd.DataFrame

    @cached_property
    def unpaired(self) -> dict[str, dict[str, list[int]]]:
        """video_id → modality → the frame numbers it lacks that another modality of the recording has."""
        found: dict[str, dict[str, list[int]]] = {}
        for video in self.videos.to_dict("records"):
            missing = {mod: [int(n) for n in video[f"missing_frames_{mod}"]] for mod in MODALITIES
                       if video.get(f"missing_frames_{mod}") is not None and len(video[f"missing_frames_{mod}"])}
            if missing:
                found[video["video_id"]] = missing
        return found


def load_manifests(folder: Location) -> Manifests:
    """The five manifests of one dataset (a folder or a URL); a missing one names the stage that writes it."""
    tables = {}
    for name in MANIFESTS:
        path = storage.join(folder, f"{name}.parquet")
        if not storage.is_file(path):
            stage = "index" if name in ("videos", "protocols") else "shard"
            raise FileNotFoundError(f"{path} does not exist: run `python -m pipeline.{stage}` first")
        tables[name] = storage.read_parquet(path)
    return Manifests(**tables)


def rejected_recordings(m: Manifests) -> set[str]:
    """Recordings with no sample at all (a recording that lost only some windows still has samples)."""
    return set(m.rejects["video_id"]) - set(m.samples["video_id"])


def attribute_columns(videos: pd.DataFrame) -> list[str]:
    """The columns that group recordings: attack type, ethnicity, session, phone, … (whatever the dataset has)."""
    columns = []
    for column in videos.columns:
        if column in NOT_ATTRIBUTES or column.startswith(PER_MODALITY_COLUMNS):
            continue
        values = videos[column].dropna()
        if not values.empty and values.nunique() <= MAX_ATTRIBUTE_VALUES:
            columns.append(column)
    return columns


def _per_video(m: Manifests) -> pd.DataFrame:
    ids = m.videos["video_id"]
    return pd.DataFrame({
        "video_id": ids,
        "windows": ids.map(m.samples.groupby("video_id").size()).fillna(0).astype(int),
        "reject_rows": ids.map(m.rejects.groupby("video_id").size()).fillna(0).astype(int),
        "rejected": ids.isin(rejected_recordings(m)),
    })


def attribute_table(m: Manifests, column: str) -> pd.DataFrame:
    """Per value of ``column``: recordings, windows (samples), wholly rejected recordings, reject rows."""
    values = m.videos[column].astype(object)
    missing = values.isna() | (values == "")
    # labels from the values themselves (a nullable integer column must not print as 5.0), in value order
    order = [str(v) for v in sorted(values[~missing].unique())] + ([NONE] if missing.any() else [])
    labels = [NONE if gone else str(v) for v, gone in zip(values, missing)]
    table = _per_video(m).assign(value=labels).groupby("value").agg(
        recordings=("video_id", "size"), windows=("windows", "sum"),
        rejected_recordings=("rejected", "sum"), reject_rows=("reject_rows", "sum"),
    ).reindex(order).reset_index()
    return table.rename(columns={"value": column})


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def split_table(m: Manifests) -> pd.DataFrame:
    """Per protocol split: recordings (bona fide / attack), windows in its shards, wholly rejected recordings."""
    members = m.protocols[["protocol", "split", "video_id"]].drop_duplicates()
    bonafide = m.videos.set_index("video_id")["is_bonafide"]
    members = members.assign(is_bonafide=members["video_id"].map(bonafide).astype(bool),
                             rejected=members["video_id"].isin(rejected_recordings(m)))
    table = members.groupby(["protocol", "split"]).agg(
        recordings=("video_id", "size"), bona_fide=("is_bonafide", "sum"), rejected_recordings=("rejected", "sum"),
    ).reset_index()
    table.insert(4, "attacks", table["recordings"] - table["bona_fide"])
    # a sample belongs to every split of its shard's signature (how training reads it)
    per_split = m.samples.merge(m.shards[["shard", "signature"]], on="shard").explode("signature")
    windows = per_split.groupby("signature").size()
    table.insert(5, "windows", [int(windows.get(f"{p}/{s}", 0)) for p, s in zip(table["protocol"], table["split"])])
    order = table.apply(lambda r: (_natural(r["protocol"]), SPLITS.index(r["split"])), axis=1)
    return table.iloc[sorted(range(len(table)), key=lambda i: order.iloc[i])].reset_index(drop=True)


def reject_summary(m: Manifests) -> pd.DataFrame:
    """Per reason: reject rows and distinct recordings."""
    table = m.rejects.groupby("reason").agg(rows=("video_id", "size"), recordings=("video_id", "nunique"))
    return table.reset_index().sort_values(["rows", "reason"], ascending=[False, True], ignore_index=True)


def frame_counts(videos: pd.DataFrame) -> dict[str, np.ndarray]:
    """Frames per recording, per modality present."""
    counts = {}
    for modality in MODALITIES:
        column = f"n_frames_{modality}"
        if column in videos and videos[column].notna().any():
            counts[modality] = videos[column].dropna().to_numpy(dtype=int)
    return counts


def sheet_samples(m: Manifests, per_type: int) -> dict[str, pd.DataFrame]:
    """Per attack type (bona fide first): up to ``per_type`` recordings spread over the sorted ids, one
    sample each (its first window)."""
    first = m.samples.sort_values(["video_id", "window"]).drop_duplicates("video_id")
    first = first.merge(m.videos[["video_id", "attack_type"]], on="video_id").sort_values("video_id")
    chosen = {}
    for attack in sorted(first["attack_type"].unique(), key=lambda a: (a != "bonafide", a)):
        group = first[first["attack_type"] == attack]
        picks = np.unique(np.linspace(0, len(group) - 1, min(per_type, len(group))).round().astype(int))
        chosen[attack] = group.iloc[picks][["key", "video_id", "window", "shard"]].reset_index(drop=True)
    return chosen


def reject_cells(m: Manifests, limit: int) -> pd.DataFrame:
    """Recordings with rejects (``video_id``, ``reasons``, ``windows``, ``detail``), at most ``limit``,
    taken in turn from each reason so that every reason is shown."""
    rows = []
    whole = rejected_recordings(m)
    for video_id, group in m.rejects.groupby("video_id", sort=True):
        windows = sorted(int(w) for w in group["window"].dropna())
        listed = ("window " if len(windows) == 1 else "windows ") + ",".join(map(str, windows))
        rows.append({"video_id": video_id, "reasons": ", ".join(sorted(set(group["reason"]))),
                     "reason": group["reason"].iloc[0], "windows": "all windows" if video_id in whole else listed,
                     "detail": _short_detail(str(group["detail"].iloc[0] or ""), video_id)})
    table = pd.DataFrame(rows, columns=["video_id", "reasons", "reason", "windows", "detail"])
    table["turn"] = table.groupby("reason").cumcount()
    picked = table.sort_values(["turn", "reason", "video_id"]).head(limit)
    return picked.drop(columns=["turn", "reason"]).reset_index(drop=True)


def _short_detail(detail: str, video_id: str) -> str:
    """A detail without the path up to the recording's folder: the file and the problem fit on a label."""
    return detail.split(f"/{video_id}/", 1)[-1]


def first_frames(root: Path, video: pd.Series, decoder: str = "auto",
                 timeout: float | None = None) -> list[tuple[str, np.ndarray | None]]:
    """The first frame of each modality a recording has (None where it does not decode), videos through
    ``decoder`` (:mod:`pipeline.video`)."""
    frames: list[tuple[str, np.ndarray | None]] = []
    numbers = manifest_frame_numbers(video)
    for modality in MODALITIES:
        path = video.get(f"path_{modality}")
        if path is None or pd.isna(path):
            continue
        if escapes_root(str(path)) or not numbers.get(modality):  # an unsafe_path reject: never read
            frames.append((modality, None))
            continue
        try:
            source = open_source(root / str(path), modality != "rgb", decoder, timeout)
            frames.append((modality, source.read(numbers[modality][:1])[0]))
        except (DecodeError, OSError) as error:
            log.debug("no first frame for %s: %s", video["video_id"], error)
            frames.append((modality, None))
    return frames


CROP_COLUMNS = ["key", "video_id", "modality", "crop_method", "crop_side", "crop_size"]
SIZE_COLUMNS = ["key", "modality", "width", "height"]


@dataclass
class ShardScan:
    # per sample and modality: the centre frame's face box side (source pixels), crop method and size
    crops: pd.DataFrame
    sizes: pd.DataFrame  # per sample, modality and frame read: the frame's width and height
    members: dict[str, dict[str, bytes]]  # the wanted samples' members, by key and extension
    unreadable: dict[str, str]  # shard → what is wrong with it (some or all of its samples are missing)


def scan_shards(shard_dir: Location, shards: pd.DataFrame, wanted: set[str]) -> ShardScan:
    """One pass over each tar of ``shards`` (shards.parquet rows): every sample's JSON, and all members
    of the ``wanted`` keys. A tar that fails to read, or holds other than the manifest's bytes or
    sample count (a cut at a member boundary reads without error), is listed as unreadable."""
    from tqdm import tqdm

    members: defaultdict[str, dict[str, bytes]] = defaultdict(dict)
    rows, sizes, unreadable = [], [], {}
    expected = list(shards[["shard", "n_samples", "n_bytes"]].itertuples(index=False))
    stored = storage.files(shard_dir, ".tar")  # every tar's size in one listing, not a request per shard

    def needed(member: str) -> bool:  # image payloads of other samples are skipped, not read
        key, extension = split_member_name(member)
        return extension == "json" or key in wanted

    for name, n_samples, n_bytes in tqdm(expected, unit="shard", desc="read shards", disable=not progress_enabled(),
                                         file=sys.stderr):
        path, found = storage.join(shard_dir, f"{name}.tar"), 0
        try:
            with storage.open_read(path) as handle:
                for member, data in tar_members(handle, str(path), wanted=needed):
                    key, extension = split_member_name(member)
                    if key in wanted:
                        members[key][extension] = data
                    if extension == "json":
                        meta = json.loads(data)
                        rows += _crop_rows(key, meta)
                        sizes += _size_rows(key, meta)
                        found += 1
            size = stored.get(f"{name}.tar")
            if size != n_bytes or found != n_samples:
                raise ValueError(f"{found} of {n_samples} samples and {size} of {n_bytes} bytes: cut or changed")
        except (OSError, ValueError, KeyError) as error:  # the report shows what it can
            log.warning("%s.tar: unreadable, partly or wholly left out of the report (%s); run pipeline.verify",
                        name, error)
            unreadable[name] = f"{type(error).__name__}: {error}"
    crops, sizes = pd.DataFrame(rows, columns=CROP_COLUMNS), pd.DataFrame(sizes, columns=SIZE_COLUMNS)
    return ShardScan(crops, sizes, dict(members), unreadable)


def _crop_rows(key: str, meta: dict) -> list[dict]:
    crop = meta["crop"]
    return [{"key": key, "video_id": meta["video_id"], "modality": modality, "crop_method": crop["method"],
             "crop_side": float(max(x1 - x0, y1 - y0)), "crop_size": int(crop["size"])}
            for modality, (x0, y0, x1, y1) in sorted(crop["box"].items())]


def _size_rows(key: str, meta: dict) -> list[tuple]:
    return [(key, modality, width, height) for modality, frames in sorted(meta["frame_sizes"].items())
            for width, height in frames]


# -- frame pairing and sizes ------------------------------------------------------------------------
def frame_size_table(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per modality: frames the windows read, distinct frame sizes, and the range of widths and heights."""
    labelled = sizes.assign(size=sizes["width"].astype(str) + "x" + sizes["height"].astype(str))
    table = labelled.groupby("modality").agg(
        frames=("key", "size"), distinct_sizes=("size", "nunique"),
        min_width=("width", "min"), median_width=("width", "median"), max_width=("width", "max"),
        min_height=("height", "min"), median_height=("height", "median"), max_height=("height", "max"),
    )
    order = [m for m in MODALITIES if m in table.index]
    return table.reindex(order).reset_index()


def handling_table(m: Manifests) -> pd.DataFrame:
    """How many windows needed size or gap handling, and how many recordings lost frames to pairing."""
    samples, videos = m.samples, m.videos
    unpaired = m.unpaired
    rows = [
        ("windows", len(samples), 1.0),
        ("windows whose frames differ in size (sizes_vary)", int(samples["sizes_vary"].sum()),
         _share(samples["sizes_vary"].sum(), len(samples))),
        ("windows that skip a frame number (frame_gap)", int(samples["frame_gap"].sum()),
         _share(samples["frame_gap"].sum(), len(samples))),
        ("recordings", len(videos), 1.0),
        ("recordings with frame numbers missing from some modality", len(unpaired), _share(len(unpaired), len(videos))),
    ]
    return pd.DataFrame(rows, columns=["what", "count", "share"])


def _share(count: int, total: int) -> float:
    return float(count) / total if total else 0.0


def _skipped_everywhere(video: dict) -> list[int]:
    """Frame numbers no modality has, between a recording's first and last (at its usual step)."""
    numbers = sorted({n for values in manifest_frame_numbers(video).values() for n in values})
    if not numbers:
        return []
    step = frame_step(numbers)
    return sorted(set(range(numbers[0], numbers[-1] + 1, step)) - set(numbers))


def gap_table(m: Manifests) -> pd.DataFrame:
    """Recordings that lost frames to pairing or have windows that skip a number: which numbers, which
    modality, how many paired frames remain, and how many of their windows skip a number."""
    unpaired = m.unpaired
    gaps = m.samples.groupby("video_id")["frame_gap"].agg(windows="size", gap_windows="sum")
    ids = set(unpaired) | set(gaps.index[gaps["gap_windows"] > 0])
    rows = []
    for video in m.videos[m.videos["video_id"].isin(ids)].sort_values("video_id").to_dict("records"):
        video_id, missing = video["video_id"], unpaired.get(video["video_id"], {})
        rows.append({"video_id": video_id,
                     "missing in one modality": "; ".join(f"{mod}: {', '.join(map(str, n))}"
                                                          for mod, n in missing.items()),
                     "missing in every modality": ", ".join(map(str, _skipped_everywhere(video))),
                     "paired frames": int(video["n_frames_paired"]),
                     "windows": int(gaps["windows"].get(video_id, 0)),
                     "windows skipping a number": int(gaps["gap_windows"].get(video_id, 0))})
    columns = ["video_id", "missing in one modality", "missing in every modality", "paired frames", "windows",
               "windows skipping a number"]
    return pd.DataFrame(rows, columns=columns)
