"""Building the report: read the manifests and the shards, compose the sheets and plots, write the page."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import data, html
from .plots import histogram_png
from .sheets import Sheet, compose_sheet
from ..datasets.records import MODALITIES
from ..format.images import decode_image
from ..format.members import image_member, image_names
from ..io import write_bytes_atomic
from ..storage import Location
from ..video import DECODE_TIMEOUT

log = logging.getLogger(__name__)

DEFAULT_SIDE = 128  # tile side when no shard says otherwise


@dataclass(frozen=True)
class ReportConfig:
    dataset: str
    root: Path
    manifests: Location  # a folder or a URL
    shards: Location
    out: Path
    per_type: int = 8  # recordings per attack-type sheet
    max_rejects: int = 48  # recordings on the rejects sheet
    max_reject_rows: int = 500  # rows of the rejects table in the page
    decoder: str = "auto"  # the video decoder of the rejects sheet's first frames (pipeline.video)
    decode_timeout: float = DECODE_TIMEOUT


@dataclass
class ReportResult:
    html: Path
    sheets: dict[str, Sheet] = field(default_factory=dict)  # attack type (or "rejects") → sheet
    sheet_paths: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def build_report(config: ReportConfig) -> ReportResult:
    """Read manifests and shards, write the sheets, plots and page. Tests call this directly."""
    started = time.perf_counter()
    m = data.load_manifests(config.manifests)
    chosen = data.sheet_samples(m, config.per_type)
    wanted = {key for rows in chosen.values() for key in rows["key"]}
    log.info("reading %d shards from %s", len(m.shards), config.shards)
    scan = data.scan_shards(config.shards, m.shards, wanted)
    side = int(scan.crops["crop_size"].iloc[0]) if len(scan.crops) else DEFAULT_SIDE
    sheets = {attack: _sample_sheet(config.dataset, attack, rows, scan.members, side)
              for attack, rows in chosen.items()}
    rejects = data.reject_cells(m, config.max_rejects)
    if len(rejects):
        sheets["rejects"] = _rejects_sheet(config, m, rejects, side)
    result = ReportResult(config.out / "report.html", sheets)
    _clear(config.out / "sheets")
    for name, sheet in sheets.items():
        result.sheet_paths[name] = sheet.save(config.out / "sheets" / f"{name}.png")
    plots = _plots(m, scan)
    (config.out / "plots").mkdir(parents=True, exist_ok=True)
    for name, png in plots.items():
        write_bytes_atomic(png, config.out / "plots" / f"{name}.png")
    ids = {attack: list(rows["video_id"]) for attack, rows in chosen.items()} | {"rejects": list(rejects["video_id"])}
    document = _page(config, m, scan, sheets, ids, plots)
    write_bytes_atomic(document.encode("utf-8"), result.html)
    result.seconds = time.perf_counter() - started
    return result


def _clear(folder: Path) -> None:
    """Sheets of an earlier run (an attack type that is gone) must not linger beside the new ones."""
    for old in folder.glob("*.png"):
        old.unlink()


def sample_tiles(members: dict[str, bytes]) -> list[tuple[str, np.ndarray]]:
    """(name, image) of every modality in a sample, static crop then dynamic image: rgb, rgb_di, depth, …"""
    tiles = []
    for modality in MODALITIES:
        for name in image_names(modality):
            data = image_member(members, name)
            if data is not None:
                tiles.append((name, decode_image(data)))
    return tiles


def _sample_sheet(dataset: str, attack: str, rows: pd.DataFrame, members: dict, side: int) -> Sheet:
    cells = [([f"{r.video_id}  window {r.window}"], sample_tiles(members[r.key])) for r in rows.itertuples()
             if r.key in members]  # a sample of an unreadable shard is left out (logged by the scan)
    title = f"{dataset} - {attack}: {len(cells)} recordings, one window each (static crop | dynamic image)"
    log.info("sheet %s: %d recordings", attack, len(cells))
    return compose_sheet(title, cells, side)


def _rejects_sheet(config: ReportConfig, m: data.Manifests, rejects: pd.DataFrame, side: int) -> Sheet:
    videos = m.videos.set_index("video_id", drop=False)
    cells = [([r.video_id, f"{r.reasons} ({r.windows})", r.detail],
              data.first_frames(config.root, videos.loc[r.video_id], config.decoder, config.decode_timeout))
             for r in rejects.itertuples()]
    total = m.rejects["video_id"].nunique()
    title = f"{config.dataset} - rejects: first frames of {len(cells)} of {total} recordings with rejected windows"
    return compose_sheet(title, cells, side)


def _plots(m: data.Manifests, scan: data.ShardScan) -> dict[str, bytes]:
    by_method = {f"{method} / {modality}": group["crop_side"].to_numpy()
                 for (method, modality), group in scan.crops.groupby(["crop_method", "modality"])}
    by_modality = dict(tuple(scan.sizes.groupby("modality")))
    widths = {m: by_modality[m]["width"].to_numpy() for m in MODALITIES if m in by_modality}
    return {
        "frame_counts": histogram_png(data.frame_counts(m.videos), "Frames per recording", "frames"),
        "frame_sizes": histogram_png(widths, "Frame width per modality (every frame a window read)", "pixels"),
        "crop_sizes": histogram_png(by_method, "Face box side per window, by crop method and modality",
                                    "pixels in the source frame"),
    }


def _page(config: ReportConfig, m: data.Manifests, scan: data.ShardScan, sheets: dict[str, Sheet],
          ids: dict[str, list[str]], plots: dict[str, bytes]) -> str:
    sections = [
        ("summary", "Summary", html.table_html(_totals(m, scan), "totals") + _unreadable_shards(scan)),
        ("attributes", "Per attribute", html.tiles(
            [f"<h3>{column}</h3>" + html.table_html(data.attribute_table(m, column), f"attr-{column}")
             for column in data.attribute_columns(m.videos)])),
        ("splits", "Per protocol split", html.paragraph(
            "windows: samples in the split's shards; rejected recordings: members of the split with no sample.")
         + html.table_html(data.split_table(m), "splits")),
        ("distributions", "Distributions", _distributions(plots, scan.crops)),
        ("pairing", "Frame sizes and pairing", _pairing(m, scan, plots["frame_sizes"])),
        ("sheets", "Contact sheets", "".join(_figure(name, sheet, ids[name]) for name, sheet in sheets.items()
                                             if name != "rejects")),
        ("rejects", "Rejects", _rejects_section(config, m, sheets.get("rejects"), ids["rejects"])),
    ]
    meta = [f"manifests: {config.manifests}", f"shards: {config.shards}", f"raw data: {config.root}",
            "written by python -m pipeline.report"]
    return html.page(f"Dataset report: {config.dataset}", meta, sections)


def _figure(name: str, sheet: Sheet, ids: list[str]) -> str:
    return html.image_html(sheet.png, f"contact sheet: {name}", f"{name}: {', '.join(ids)}", f"sheet-{name}")


def _totals(m: data.Manifests, scan: data.ShardScan) -> pd.DataFrame:
    rows = [
        ("recordings", len(m.videos)), ("bona fide recordings", int(m.videos["is_bonafide"].sum())),
        ("attack recordings", int((~m.videos["is_bonafide"]).sum())), ("windows (samples)", len(m.samples)),
        ("shards", len(m.shards)), ("shard bytes", int(m.shards["n_bytes"].sum())),
        ("unreadable shards", len(scan.unreadable)),
        ("wholly rejected recordings", len(data.rejected_recordings(m))), ("reject rows", len(m.rejects)),
    ]
    return pd.DataFrame(rows, columns=["what", "count"])


def _unreadable_shards(scan: data.ShardScan) -> str:
    """The shards this report could not read: their samples are missing from every sheet and plot."""
    if not scan.unreadable:
        return ""
    table = pd.DataFrame(sorted(scan.unreadable.items()), columns=["shard", "error"])
    return (html.paragraph("These shards could not be read whole: some or all of their samples are missing "
                           "from the sheets and plots below. Run python -m pipeline.verify to check every shard.")
            + html.table_html(table, "unreadable-shards"))


def _distributions(plots: dict[str, bytes], crops: pd.DataFrame) -> str:
    methods = crops.groupby(["crop_method", "modality"]).agg(
        windows=("key", "size"), median_side=("crop_side", "median"), min_side=("crop_side", "min"),
        max_side=("crop_side", "max"))
    return (html.image_html(plots["frame_counts"], "frame counts", "Frames per recording, per modality.", "plot-frames")
            + html.image_html(plots["crop_sizes"], "crop sizes",
                              "Side of the face box each window's centre frame was cropped from, in that "
                              "modality's source pixels.", "plot-crops")
            + html.table_html(methods.reset_index(), "crop-methods"))


def _pairing(m: data.Manifests, scan: data.ShardScan, sizes_png: bytes) -> str:
    """Frame sizes per modality, the windows that needed size or gap handling, and the recordings that
    lost frames because a modality lacks their numbers."""
    gaps = data.gap_table(m)
    intro = ("Modalities are paired by frame number: a number one modality lacks is left out of every "
             "modality, and a window of K paired frames may then skip it (frame_gap). Black-border frames "
             "of different sizes (sizes_vary) are each mapped onto the crop by their own face extent.")
    parts = [html.paragraph(intro), html.table_html(data.handling_table(m), "handling"),
             html.image_html(sizes_png, "frame sizes", "Width of every frame the windows read, per modality.",
                             "plot-sizes"),
             html.table_html(data.frame_size_table(scan.sizes), "frame-sizes")]
    if gaps.empty:
        parts.append(html.paragraph("Every recording has every frame number in every modality."))
    else:
        parts.append(html.table_html(gaps, "gaps", "recordings that lost frames to pairing or skip a number"))
    return "".join(parts)


def _rejects_section(config: ReportConfig, m: data.Manifests, sheet: Sheet | None, ids: list[str]) -> str:
    if m.rejects.empty:
        return html.paragraph("No recording or window was rejected.")
    listed = m.rejects.head(config.max_reject_rows).astype(object).where(m.rejects.notna(), "")
    note = (f"first {config.max_reject_rows} of {len(m.rejects)} rows (all are in rejects.parquet)"
            if len(m.rejects) > config.max_reject_rows else None)
    parts = [html.table_html(data.reject_summary(m), "reject-reasons")]
    if sheet is not None:
        parts.append(_figure("rejects", sheet, ids))
    parts.append(html.table_html(listed.assign(window=listed["window"].astype(str)), "rejects", note))
    return "".join(parts)
