"""One self-contained HTML page: tables, and images embedded as base64 (no file or network it depends on)."""
from __future__ import annotations

import base64
from html import escape

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1700px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; } td { text-align: right; }
td:first-child, td.text { text-align: left; } th { background: #f0f0f0; }
.tiles { display: flex; flex-wrap: wrap; gap: 0 2.5em; } .tiles h3 { margin: 0.6em 0 0; }
.meta { color: #555; } figure { margin: 0.5em 0 1.5em; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.9em; margin-top: 0.3em; }
"""


def table_html(table: pd.DataFrame, table_id: str, caption: str | None = None) -> str:
    """``table`` as an HTML table (cells escaped), with a heading row and an id to find it by."""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    rows = []
    for row in table.itertuples(index=False):
        cells = "".join(f'<td class="text">{escape(v)}</td>' if isinstance(v, str) else f"<td>{escape(_number(v))}</td>"
                        for v in row)
        rows.append(f"<tr>{cells}</tr>")
    title = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<table id="{escape(table_id)}">{title}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def image_html(png: bytes, alt: str, caption: str, image_id: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="{escape(image_id)}"><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def tiles(parts: list[str]) -> str:
    """Blocks side by side, wrapping: many small tables without a long scroll."""
    return '<div class="tiles">' + "".join(f"<div>{part}</div>" for part in parts) + "</div>"


def paragraph(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def page(title: str, meta: list[str], sections: list[tuple[str, str, str]]) -> str:
    """The document: a title, meta lines, and (id, heading, body HTML) sections with a table of contents."""
    contents = "".join(f'<li><a href="#{escape(i)}">{escape(h)}</a></li>' for i, h, _ in sections)
    body = "".join(f'<section id="{escape(i)}"><h2>{escape(h)}</h2>{html}</section>' for i, h, html in sections)
    lines = "".join(f'<p class="meta">{escape(line)}</p>' for line in meta)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{lines}<ul>{contents}</ul>{body}</body></html>\n")
