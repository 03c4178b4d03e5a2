"""The dataset report on tiny CeFA demo data with rejects: sheets show the shards' own pixels, the page
shows counts computed here independently from the manifests, as Chromium renders it."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pipeline.format.images import decode_image, encode_image
from pipeline.format.tars import read_tar_samples
from pipeline.index import build_index, write_index
from pipeline.report import ReportConfig, build_report, sample_tiles
from pipeline.report.cli import main as report_main
from pipeline.report.data import attribute_columns, attribute_table, load_manifests
from pipeline.report.sheets import LABEL_BAR, MISSING
from pipeline.samples import SampleConfig
from pipeline.shard import StageConfig, run

PER_TYPE = 3
TILES = ["rgb", "rgb_di", "depth", "depth_di", "ir", "ir_di"]


@pytest.fixture(scope="module")
def damaged_cefa(demo_root, tmp_path_factory):
    """Tiny CeFA with three damaged recordings (one lost window, too short, unreadable IR), sharded and reported."""
    source, _ = demo_root("cefa")
    work = tmp_path_factory.mktemp("report_cefa")
    raw = work / "raw"
    shutil.copytree(source, raw)
    recordings = sorted((raw / "CASIA_CeFA/Ethnicity/AF").glob("*/*_1_1_1"))
    sorted((recordings[0] / "color").iterdir())[-1].write_bytes(b"\xff\xd8 truncated")  # decode_error, last window
    for frame in sorted((recordings[1] / "depth").iterdir())[5:]:
        frame.unlink()  # too_short: at most 5 frame numbers in every modality < 7
    for frame in (recordings[2] / "ir").iterdir():
        frame.write_bytes(b"")  # decode_error in every window; no IR first frame
    write_index(build_index("cefa", raw), work / "m", "cefa", ["test"])
    stage = StageConfig(root=raw, manifests=work / "m", out=work / "s", samples_per_shard=4, workers=0,
                        sample=SampleConfig(detector="opencv"))
    run(stage)
    config = ReportConfig("cefa", raw, stage.manifests, stage.out, work / "report", per_type=PER_TYPE)
    return config, build_report(config), [r.name for r in recordings[:3]]


def shard_samples(config: ReportConfig) -> dict[str, dict[str, bytes]]:
    found = {}
    for tar in config.shards.glob("*.tar"):
        found |= read_tar_samples(tar)
    return found


def decode(data: bytes) -> np.ndarray:
    image = decode_image(data)
    return image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)


@pytest.mark.parametrize("image_format", ["png", "npy"])
def test_sample_tiles_read_every_stored_format_in_modality_order(image_format):
    rng = np.random.default_rng(0)
    images = {"rgb": rng.integers(0, 256, (8, 8, 3), np.uint8), "rgb_di": rng.integers(0, 256, (8, 8, 3), np.uint8),
              "depth": rng.integers(0, 256, (8, 8), np.uint8), "depth_di": rng.integers(0, 256, (8, 8), np.uint8)}
    members = {f"{name}.{image_format}": encode_image(image, image_format) for name, image in images.items()}
    tiles = sample_tiles(members | {"json": b"{}"})
    assert [name for name, _ in tiles] == ["rgb", "rgb_di", "depth", "depth_di"]
    for name, image in tiles:
        assert np.array_equal(image, images[name])


def test_the_damage_gives_the_rejects_the_report_must_show(damaged_cefa):
    config, _, damaged = damaged_cefa
    rejects = pd.read_parquet(config.manifests / "rejects.parquet")
    assert set(rejects["video_id"]) == set(damaged)
    assert set(rejects["reason"]) == {"decode_error", "too_short"}


def test_each_attack_sheet_has_one_labelled_cell_per_recording_showing_the_shard_pixels(damaged_cefa):
    config, result, _ = damaged_cefa
    m = load_manifests(config.manifests)
    members = shard_samples(config)
    with_samples = m.videos[m.videos["video_id"].isin(m.samples["video_id"])]
    assert set(result.sheets) == set(with_samples["attack_type"]) | {"rejects"}
    for attack, sheet in result.sheets.items():
        if attack == "rejects":
            continue
        candidates = set(with_samples.loc[with_samples["attack_type"] == attack, "video_id"])
        assert len(sheet.cells) == min(PER_TYPE, len(candidates))
        on_disk = cv2.cvtColor(cv2.imread(str(result.sheet_paths[attack])), cv2.COLOR_BGR2RGB)
        assert np.array_equal(on_disk, sheet.image)
        for cell in sheet.cells:
            video_id = cell.lines[0].split()[0]
            assert video_id in candidates
            window = m.samples[m.samples["video_id"] == video_id]["window"].min()
            key = m.samples[(m.samples["video_id"] == video_id) & (m.samples["window"] == window)]["key"].item()
            assert [t.name for t in cell.tiles] == TILES
            for tile in cell.tiles:  # the crop exactly as stored, not resampled
                shown = on_disk[tile.y:tile.y + tile.side, tile.x:tile.x + tile.side]
                stored = members[key][f"{tile.name}.{SampleConfig().image_format}"]
                assert np.array_equal(shown, decode(stored)), (attack, key, tile.name)
            label = on_disk[cell.y:cell.tiles[0].y, cell.x:cell.x + cell.width]
            assert (label != LABEL_BAR).any(axis=2).sum() > 50  # the id is drawn into the bar
        assert len({c.lines[0] for c in sheet.cells}) == len(sheet.cells)


def test_rejects_sheet_shows_each_rejected_recordings_first_frames_and_reasons(damaged_cefa):
    config, result, damaged = damaged_cefa
    rejects = pd.read_parquet(config.manifests / "rejects.parquet")
    sheet = result.sheets["rejects"]
    cells = {cell.lines[0]: cell for cell in sheet.cells}
    assert set(cells) == set(damaged)
    for video_id, cell in cells.items():
        for reason in set(rejects.loc[rejects["video_id"] == video_id, "reason"]):
            assert reason in cell.lines[1]
        tiles = {t.name: t for t in cell.tiles}
        assert list(tiles) == ["rgb", "depth", "ir"]
        folder = next(config.root.glob(f"CASIA_CeFA/Ethnicity/*/*/{video_id}"))
        frame = cv2.cvtColor(cv2.imread(str(sorted((folder / "color").iterdir())[0])), cv2.COLOR_BGR2RGB)
        t = tiles["rgb"]
        shown = sheet.image[t.y:t.y + t.side, t.x:t.x + t.side]
        h, w = frame.shape[:2]
        size = (round(w * t.side / max(h, w)), round(h * t.side / max(h, w)))
        oy, ox = (t.side - size[1]) // 2, (t.side - size[0]) // 2
        expected = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR)
        assert np.array_equal(shown[oy:oy + size[1], ox:ox + size[0]], expected)
    ir = cells[damaged[2]].tiles[2]
    unreadable = sheet.image[ir.y:ir.y + ir.side, ir.x:ir.x + ir.side]
    assert (unreadable == MISSING).all(axis=2).mean() > 0.9  # the placeholder, not a picture
    assert "all windows" in cells[damaged[1]].lines[1] and "window " in cells[damaged[0]].lines[1]


def test_attribute_tables_count_every_recording_under_its_own_value(damaged_cefa):
    config, _, _ = damaged_cefa
    m = load_manifests(config.manifests)
    columns = attribute_columns(m.videos)
    assert {"attack_type", "ethnicity", "session", "device"} <= set(columns)
    assert not {"video_id", "path_rgb", "n_frames_rgb"} & set(columns)
    for column in columns:
        table = attribute_table(m, column)
        assert table["recordings"].sum() == len(m.videos) and table["windows"].sum() == len(m.samples)
        for row in table.itertuples(index=False):
            value = row[0]
            if value != "(none)":  # a nullable integer column prints as 5, not 5.0
                assert row.recordings == sum(str(v) == value for v in m.videos[column].dropna()), (column, value)


def test_pairing_tables_agree_with_the_raw_tree(damaged_cefa):
    """Frame sizes, lost frame numbers and the windows that needed size or gap handling, against what is on
    disk: every frame file a window read, opened here, and every modality's folder listed here."""
    from pipeline.report.data import frame_size_table, gap_table, handling_table, scan_shards

    config, _, _ = damaged_cefa
    m = load_manifests(config.manifests)
    videos = m.videos.set_index("video_id")
    scan = scan_shards(config.shards, m.shards, set())
    widths: dict[str, list[int]] = {}
    windows_of_several_sizes = 0
    for row in m.samples.itertuples():
        several = False
        for modality in ("rgb", "depth", "ir"):
            folder = config.root / videos.loc[row.video_id, f"path_{modality}"]
            shapes = [cv2.imread(str(folder / f"{number:04d}.jpg")).shape[:2] for number in row.frames]
            widths.setdefault(modality, []).extend(width for _, width in shapes)
            several |= len(set(shapes)) > 1
        windows_of_several_sizes += several
    sizes = frame_size_table(scan.sizes).set_index("modality")
    for modality, values in widths.items():
        assert (sizes.loc[modality, "frames"], sizes.loc[modality, "min_width"], sizes.loc[modality, "max_width"]) == (
            len(values), min(values), max(values))
    assert sizes.loc["rgb", "min_width"] > sizes.loc["depth", "max_width"]  # each modality at its own scale
    lost = {}
    for video_id, row in videos.iterrows():
        on_disk = {mod: {int(p.stem) for p in (config.root / row[f"path_{mod}"]).glob("*.jpg")}
                   for mod in ("rgb", "depth", "ir")}
        every = set().union(*on_disk.values())
        missing = {mod: sorted(every - numbers) for mod, numbers in on_disk.items() if every - numbers}
        if missing:
            lost[video_id] = "; ".join(f"{mod}: {', '.join(map(str, n))}" for mod, n in missing.items())
    table = gap_table(m).set_index("video_id")
    assert lost and {v: table.loc[v, "missing in one modality"] for v in lost} == lost
    handling = handling_table(m).set_index("what")["count"]
    assert handling["windows whose frames differ in size (sizes_vary)"] == windows_of_several_sizes > 0
    assert handling["recordings with frame numbers missing from some modality"] == len(lost)


# --- the page, as Chromium renders it -------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
#: Run in the rendered page: what the page shows (innerText honours CSS) and how each image decoded.
PROBE = """<script>
addEventListener('load', () => {
  const out = document.createElement('pre'); out.id = 'probe';
  out.textContent = JSON.stringify({text: document.body.innerText, images: [...document.images].map(
    i => ({id: i.parentElement.id, alt: i.alt, width: i.naturalWidth, height: i.naturalHeight}))});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    found = next((shutil.which(name) for name in CHROMIUM_NAMES if shutil.which(name)), None)
    if found is None:
        if os.environ.get("CI_REQUIRE_CHROMIUM"):
            pytest.fail("CI_REQUIRE_CHROMIUM is set but no Chromium is installed (.ci/run installs it)")
        pytest.skip("headless Chromium not installed (apt-get install chromium); CI_REQUIRE_CHROMIUM not set")
    return found


def render(page: Path, profile: Path) -> str:
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--virtual-time-budget=10000", "--dump-dom", probed.resolve().as_uri()]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class Tables(HTMLParser):
    """Every <table id=…> of a DOM as rows of cell texts (header row first)."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rows_by_first(table: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *rows = table
    return {row[0]: dict(zip(header, row)) for row in rows}


def test_the_page_shows_the_counts_sheets_and_rejects_when_rendered_in_chromium(damaged_cefa, tmp_path):
    config, result, damaged = damaged_cefa
    dom = render(result.html, tmp_path / "profile")
    probe = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)))
    text = probe["text"]
    tables = Tables()
    tables.feed(dom)
    videos = pd.read_parquet(config.manifests / "videos.parquet")
    samples = pd.read_parquet(config.manifests / "samples.parquet")
    rejects = pd.read_parquet(config.manifests / "rejects.parquet")
    protocols = pd.read_parquet(config.manifests / "protocols.parquet")
    splits = json.loads((config.manifests / "splits.json").read_text())["splits"]
    assert "Dataset report: cefa" in text

    by_attack = rows_by_first(tables.tables["attr-attack_type"])
    windows = samples.merge(videos[["video_id", "attack_type"]], on="video_id").groupby("attack_type").size()
    wholly = set(rejects["video_id"]) - set(samples["video_id"])
    for attack, group in videos.groupby("attack_type"):
        row = by_attack[attack]
        assert int(row["recordings"]) == len(group)
        assert int(row["windows"]) == windows.get(attack, 0)
        assert int(row["rejected_recordings"]) == len(wholly & set(group["video_id"]))
    assert set(by_attack) == set(videos["attack_type"])

    header, *rows = tables.tables["splits"]
    shown = {(r[0], r[1]): dict(zip(header, r)) for r in rows}
    members = protocols.drop_duplicates(["protocol", "split", "video_id"]).groupby(["protocol", "split"]).size()
    assert set(shown) == set(members.index)
    for (protocol, split), count in members.items():
        assert int(shown[protocol, split]["recordings"]) == count
        assert (int(shown[protocol, split]["windows"])
                == splits.get(f"{protocol}/{split}", {"n_samples": 0})["n_samples"])

    handling = rows_by_first(tables.tables["handling"])
    assert int(handling["windows that skip a frame number (frame_gap)"]["count"]) == int(samples["frame_gap"].sum())
    assert set(rows_by_first(tables.tables["frame-sizes"])) == {"rgb", "depth", "ir"}
    assert "windows skipping a number" in tables.tables["gaps"][0]

    totals = rows_by_first(tables.tables["totals"])
    assert (int(totals["recordings"]["count"]) == len(videos)
            and int(totals["windows (samples)"]["count"]) == len(samples))
    reasons = rows_by_first(tables.tables["reject-reasons"])
    assert {r: int(v["rows"]) for r, v in reasons.items()} == rejects["reason"].value_counts().to_dict()
    for reason in set(rejects["reason"]):
        assert reason in text

    images = {image["id"]: image for image in probe["images"]}
    assert set(images) == {f"sheet-{name}" for name in result.sheets} | {"plot-frames", "plot-crops", "plot-sizes"}
    for name, path in result.sheet_paths.items():
        height, width = cv2.imread(str(path)).shape[:2]
        assert (images[f"sheet-{name}"]["width"], images[f"sheet-{name}"]["height"]) == (width, height)
    assert all(image["width"] > 0 for image in images.values())  # every embedded image decodes
    for sheet in result.sheets.values():
        for cell in sheet.cells:  # the captions name every recording on the sheets
            assert cell.lines[0].split()[0] in text
    assert all(video_id in text for video_id in damaged)


def test_cli_takes_its_paths_from_params_and_writes_the_sheet_files(damaged_cefa, tmp_path, monkeypatch):
    config, result, _ = damaged_cefa
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"raw": {"cefa": str(config.root)},  # JSON is YAML
                                  "shard": {"manifests": str(config.manifests), "out": str(config.shards)}}))
    monkeypatch.chdir(tmp_path)
    assert report_main(["--dataset", "cefa", "--params", str(params), "--per-type", str(PER_TYPE), "--quiet"]) == 0
    out = tmp_path / "reports" / "cefa"
    assert sorted(p.name for p in (out / "sheets").glob("*.png")) == sorted(f"{n}.png" for n in result.sheets)
    for name, path in result.sheet_paths.items():
        assert (out / "sheets" / f"{name}.png").read_bytes() == path.read_bytes()  # deterministic
    assert (out / "report.html").read_text(encoding="utf-8") == result.html.read_text(encoding="utf-8")
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["crop_sizes.png", "frame_counts.png",
                                                                  "frame_sizes.png"]
    assert report_main(["--dataset", "cefa", "--params", str(params), "--manifests", str(tmp_path / "none")]) == 2


def _cut_inside_first_member(tar: Path) -> None:
    tar.write_bytes(tar.read_bytes()[:700])


def _cut_at_a_member_boundary(tar: Path) -> None:
    """What a partial copy can leave: whole members, no end-of-archive marker; tarfile reads it silently."""
    import tarfile

    with tarfile.open(tar) as archive:
        offsets = [member.offset for member in archive.getmembers()]
    tar.write_bytes(tar.read_bytes()[:offsets[len(offsets) // 2]])


@pytest.mark.parametrize("cut", [_cut_inside_first_member, _cut_at_a_member_boundary])
def test_an_unreadable_shard_is_named_on_the_page(damaged_cefa, tmp_path, cut):
    config, result, _ = damaged_cefa
    healthy = Tables()
    healthy.feed(result.html.read_text(encoding="utf-8"))
    assert rows_by_first(healthy.tables["totals"])["unreadable shards"]["count"] == "0"
    assert "unreadable-shards" not in healthy.tables
    shards = tmp_path / "shards"
    shutil.copytree(config.shards, shards)
    broken = max(shards.glob("*.tar"), key=lambda tar: tar.stat().st_size)  # several samples
    cut(broken)
    damaged = build_report(ReportConfig("cefa", config.root, config.manifests, shards, tmp_path / "report",
                                        per_type=PER_TYPE))
    tables = Tables()
    tables.feed(damaged.html.read_text(encoding="utf-8"))
    assert rows_by_first(tables.tables["totals"])["unreadable shards"]["count"] == "1"
    listed = rows_by_first(tables.tables["unreadable-shards"])
    assert list(listed) == [broken.stem] and listed[broken.stem]["error"]
