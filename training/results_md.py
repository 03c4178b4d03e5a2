"""``results.md``: the results document as the tables papers print, with the published numbers beside ours.

One section per dataset: a table shaped like the papers' (a row per protocol, our runs and then each published
method, the metrics the papers print for that dataset, in percent), a table of the other metrics of our runs,
and the sources of the published numbers.
"""
from __future__ import annotations

from typing import Any

from .aggregate import METRICS
from .tables import DatasetTable, Published, PublishedResult, Tables

LABELS = {"apcer": "APCER", "bpcer": "BPCER", "acer": "ACER", "apcer_worst_pai": "APCER worst PAI",
          "acer_worst_pai": "ACER worst PAI", "own_eer": "EER", "hter": "HTER",
          "hter_at_target_eer": "HTER at target's EER (oracle)", "auc": "AUC", "tpr@fpr=1e-2": "TPR@FPR=1e-2",
          "tpr@fpr=1e-3": "TPR@FPR=1e-3", "tpr@fpr=1e-4": "TPR@FPR=1e-4"}
NOT_MEASURED = "n/m"


def render(document: dict[str, Any], tables: Tables, method: str) -> str:
    """The whole page: a section per dataset of ``document`` (:func:`training.aggregate.aggregate`'s)."""
    parts = ["# Results", "",
             "Test split, at the threshold chosen on dev. Ours: mean ± standard deviation in percent, over the folds "
             "of a protocol that has folds (as the papers print it), over the seeds otherwise; sample standard "
             f"deviation (n - 1). {NOT_MEASURED}: not measurable on this split (too few attacks for the FPR). "
             "Published numbers: as printed, on the real releases, with their sources below each table; an empty "
             "cell: none published.", ""]
    for dataset, rows in document.items():
        parts += _section(tables.dataset(dataset), rows, method, tables)
    return "\n".join(parts).rstrip() + "\n"


def _section(table: DatasetTable, rows: dict[str, Any], method: str, tables: Tables) -> list[str]:
    rules = sorted({row["rule"] for row in rows.values()})
    lines = [f"## {table.title}", "", f"Threshold rule on dev: {', '.join(rules)}.", ""]
    header = ["Protocol", "Method", "Runs", *(f"{LABELS[m]} (%)" for m in table.columns)]
    lines += _table_head(header)
    cited: list[str] = []
    for name, row in rows.items():
        label = _label(table, name)
        lines.append(_line([label, method, _runs(row), *(_ours(row["test"][m], row) for m in table.columns)]))
        for result in table.published:
            cells = _published_cells(result, table, name)
            if cells:
                cited += [result.source] * (result.source not in cited)
                lines.append(_line([label, f"{result.method} [{result.source}]", "",
                                    *(_published(cells.get(m)) for m in table.columns)]))
    others = [m for m in METRICS if m not in table.columns]
    acer_column = next((m for m in table.columns if m.startswith("acer")), "acer")  # the ACER the papers print
    lines += ["", *_table_head(["Protocol", "Runs", *(f"{LABELS[m]} (%)" for m in others),
                                f"{LABELS[acer_column]} std over seeds (%)"])]
    for name, row in rows.items():
        acer = row["test"][acer_column]
        lines.append(_line([_label(table, name), _runs(row), *(_ours(row["test"][m], row) for m in others),
                            _number(acer["std_seeds"]) if acer["std_seeds"] is not None else ""]))
    lines.append("")
    for source in cited:
        entry = tables.sources[source]
        lines.append(f"[{source}] {entry['cite']}. Reported: {entry['reported']}. Checked: {entry['checked']}.  ")
    return lines + [""]


def _label(table: DatasetTable, line: str) -> str:
    """A line's name as the papers print it (O&C&I→M), else its protocol name."""
    return next((row.label for row in table.rows if row.protocol == line and row.label), line)


def _published_cells(result: PublishedResult, table: DatasetTable, line: str) -> dict[str, Published]:
    """What ``result`` published for a line: its row's cells, or for a lone fold the values printed for that fold."""
    if line in result.values:
        return result.values[line]
    row = result.values.get(table.row_of(line).protocol, {})
    return {metric: cell[line] for metric, cell in row.items() if isinstance(cell, dict) and line in cell}


def _table_head(header: list[str]) -> list[str]:
    return [_line(header), _line(["---"] * len(header))]


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _runs(row: dict[str, Any]) -> str:
    folds, seeds = len(row["folds"]), len(row["seeds"])
    text = f"{folds} folds × {seeds} seed{'s' * (seeds > 1)}" if folds > 1 else f"{seeds} seed{'s' * (seeds > 1)}"
    return text + (f" (missing: {', '.join(row['missing'])})" if row.get("missing") else "")


def _number(fraction: float) -> str:
    return f"{100 * fraction:.2f}"


def _ours(summary: dict[str, Any], row: dict[str, Any]) -> str:
    if summary["mean"] is None:
        return NOT_MEASURED
    std = summary["std"] if len(row["folds"]) > 1 else summary["std_seeds"]
    return _number(summary["mean"]) + ("" if std is None else f" ± {_number(std)}")


def _published(cell: Published | None) -> str:
    if cell is None:
        return ""
    if isinstance(cell, list):
        return f"{float(cell[0])} ± {float(cell[1])}"
    if isinstance(cell, dict):
        return " · ".join(f"{name} {float(value)}" for name, value in cell.items())
    return str(float(cell))
