"""Contact sheets: labelled grids of images, composed pixel for pixel (no resampling of crops).

A sheet is a grid of cells; a cell is a label (the recording id, then any further lines) above a row
of named tiles (``rgb``, ``rgb_di``, ``depth``, …), each tile captioned. Tiles of one modality sit
together, modalities apart. Images of the tile size are copied unchanged, so what a researcher sees
is what the shard holds; others (raw first frames) are scaled to fit and centred.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from ..io import write_bytes_atomic

FONT = cv2.FONT_HERSHEY_SIMPLEX
LINE = 18  # label line height
CAPTION = 14  # tile caption height
TILE_GAP, GROUP_GAP, CELL_GAP, MARGIN = 2, 10, 14, 10
MAX_WIDTH = 1600
BACKGROUND, LABEL_BAR, TEXT, MISSING = (255, 255, 255), (45, 45, 45), (255, 255, 255), (200, 200, 200)


@dataclass(frozen=True)
class Tile:
    name: str
    x: int
    y: int
    side: int


@dataclass(frozen=True)
class Cell:
    lines: tuple[str, ...]
    x: int
    y: int
    width: int
    height: int
    tiles: tuple[Tile, ...]


@dataclass
class Sheet:
    title: str
    image: np.ndarray  # H × W × 3, RGB
    cells: list[Cell] = field(default_factory=list)

    @cached_property
    def png(self) -> bytes:
        """The sheet as PNG, encoded once for its file and for the page that embeds it."""
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(self.image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ValueError(f"sheet {self.title!r} does not encode as PNG")
        return encoded.tobytes()

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self.png, path)
        return path


CellContent = tuple[list[str], Sequence[tuple[str, "np.ndarray | None"]]]


def compose_sheet(title: str, cells: Sequence[CellContent], side: int) -> Sheet:
    """Lay ``cells`` (label lines, named images; None = could not be read) out as a grid of tiles of ``side`` px."""
    n_lines = max((len(lines) for lines, _ in cells), default=1)
    widths = [_tiles_width([name for name, _ in images], side) for _, images in cells]
    cell_w = max(widths, default=side)
    cell_h = n_lines * LINE + side + CAPTION
    per_row = max(1, (MAX_WIDTH - 2 * MARGIN + CELL_GAP) // (cell_w + CELL_GAP))
    per_row = min(per_row, max(1, len(cells)))
    rows = -(-len(cells) // per_row)
    top = MARGIN + LINE + 6
    width = 2 * MARGIN + per_row * cell_w + (per_row - 1) * CELL_GAP
    height = top + rows * cell_h + max(0, rows - 1) * CELL_GAP + MARGIN
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    _text(canvas, title, MARGIN, MARGIN + LINE - 5, (0, 0, 0), width - 2 * MARGIN, scale=0.55)
    sheet = Sheet(title, canvas)
    for index, (lines, images) in enumerate(cells):
        x = MARGIN + (index % per_row) * (cell_w + CELL_GAP)
        y = top + (index // per_row) * (cell_h + CELL_GAP)
        sheet.cells.append(_draw_cell(canvas, lines, images, x, y, cell_w, n_lines, side))
    return sheet


def _tiles_width(names: list[str], side: int) -> int:
    gaps = sum(GROUP_GAP if _group(a) != _group(b) else TILE_GAP for a, b in zip(names, names[1:]))
    return len(names) * side + gaps


def _group(name: str) -> str:
    return name.split("_")[0]  # rgb and rgb_di belong together


def _draw_cell(canvas, lines, images, x, y, width, n_lines, side) -> Cell:
    canvas[y:y + n_lines * LINE, x:x + width] = LABEL_BAR
    for i, line in enumerate(lines):
        _text(canvas, line, x + 4, y + (i + 1) * LINE - 5, TEXT, width - 8)
    tiles = []
    tx, ty = x, y + n_lines * LINE
    previous = None
    for name, image in images:
        if previous is not None:
            tx += GROUP_GAP if _group(previous) != _group(name) else TILE_GAP
        canvas[ty:ty + side, tx:tx + side] = _fit(image, side)
        _text(canvas, name, tx + 2, ty + side + CAPTION - 3, (60, 60, 60), side - 4, scale=0.38)
        tiles.append(Tile(name, tx, ty, side))
        tx += side
        previous = name
    return Cell(tuple(lines), x, y, width, n_lines * LINE + side + CAPTION, tuple(tiles))


def as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[:, :, :3]


def _fit(image: np.ndarray | None, side: int) -> np.ndarray:
    """The image as side × side RGB: unchanged when it has that size, else scaled to fit and centred."""
    tile = np.full((side, side, 3), MISSING, np.uint8)
    if image is None:
        _text(tile, "no frame", 6, side // 2, (0, 0, 0), side - 12)
        return tile
    image = as_rgb(image)
    if image.shape[:2] == (side, side):
        return image
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    oy, ox = (side - size[1]) // 2, (side - size[0]) // 2
    tile[oy:oy + size[1], ox:ox + size[0]] = resized
    return tile


def _text(canvas: np.ndarray, text: str, x: int, y: int, colour, max_width: int, scale: float = 0.45) -> None:
    """Draw ``text`` at baseline ``y``, cut with an ellipsis to fit ``max_width``."""
    text = text.encode("ascii", "replace").decode()  # Hershey fonts draw ASCII only
    while text and cv2.getTextSize(text, FONT, scale, 1)[0][0] > max_width:
        text = text[:-4] + "..." if len(text) > 4 else ""
    cv2.putText(canvas, text, (x, y), FONT, scale, colour, 1, cv2.LINE_AA)
