"""The tables papers print (``training/tables.yaml``): each dataset's rows and their folds, and published numbers.

This file is what turns a run name into the protocols to train, and runs into table rows:

* ``oulu-3``: row 3 of OULU-NPU's table, i.e. its folds 3_1 … 3_6;
* ``oulu-3_2`` or ``cefa-4_1``: that one protocol;
* ``oulu``: every row of OULU-NPU's table, every fold of each.

A protocol that is no row of the table (OULU-NPU's ``all``) stands alone: its own row, one fold.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import UsageError
from pipeline.params import suggestion

TABLES_FILE = Path(__file__).resolve().parent / "tables.yaml"
#: What a published cell may hold: a number, [mean, std], or one number per fold or group.
Published = float | list[float] | dict[str, float]
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class Row:
    """One row of a paper's table: a protocol, and the folds it is the mean of (itself when it has none)."""

    protocol: str
    folds: tuple[str, ...]
    label: str | None = None  # how the papers name it, where that is not its protocol name (O&C&I→M)

    @property
    def has_folds(self) -> bool:
        return self.folds != (self.protocol,)


@dataclass(frozen=True)
class PublishedResult:
    method: str
    source: str
    values: dict[str, dict[str, Published]]  # row → metric → cell


@dataclass(frozen=True)
class DatasetTable:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    others: tuple[str, ...] = ()
    published: tuple[PublishedResult, ...] = field(default_factory=tuple)

    @property
    def protocols(self) -> list[str]:
        """Every protocol the dataset defines: the folds of each row, then the others."""
        return [fold for row in self.rows for fold in row.folds] + list(self.others)

    def row_of(self, protocol: str) -> Row:
        """The row a protocol's numbers go into: the row it is a fold of, else a row of its own."""
        for row in self.rows:
            if protocol in row.folds:
                return row
        if protocol in self.others:
            return Row(protocol, (protocol,))
        raise UsageError(f"{self.name} has no protocol {protocol!r} in {TABLES_FILE.name} (a new protocol goes under "
                         f"its dataset's others:); {suggestion(protocol, self.protocols)}")

    def folds_of(self, name: str | None) -> list[str]:
        """The protocols a run name stands for: every fold of every row (None), of one row, or one protocol."""
        if name is None:
            return [fold for row in self.rows for fold in row.folds]
        for row in self.rows:
            if name == row.protocol:
                return list(row.folds)
        self.row_of(name)  # refuses an unknown name
        return [name]


@dataclass(frozen=True)
class Tables:
    datasets: dict[str, DatasetTable]
    sources: dict[str, dict[str, str]]

    def dataset(self, name: str) -> DatasetTable:
        if name not in self.datasets:
            raise UsageError(f"unknown dataset {name!r}; {suggestion(name, self.datasets)}")
        return self.datasets[name]


@dataclass(frozen=True)
class RunName:
    """``<dataset>[-<row or protocol>]``, as params.yaml's ``runs.protocols`` and ``--run`` name a run."""

    dataset: str
    protocol: str | None

    @classmethod
    def parse(cls, text: str) -> RunName:
        dataset, _, protocol = text.partition("-")
        if not dataset or (_ and not protocol):
            raise UsageError(f"run {text!r}: expected <dataset>-<protocol> (oulu-3, cefa-4_1) or a dataset alone")
        return cls(dataset, protocol or None)

    def __str__(self) -> str:
        return self.dataset if self.protocol is None else f"{self.dataset}-{self.protocol}"

    def folds(self, tables: Tables | None = None) -> list[str]:
        """The protocols this run trains and evaluates, in table order; an unknown name is refused in one line."""
        return [fold for row in self.rows(tables) for fold in row.folds]

    def rows(self, tables: Tables | None = None) -> list[Row]:
        """The lines this run makes in our table: every row of the dataset's table, the row named, or the one
        protocol named (a fold of a row alone is a line of its own: ``cefa-4_1`` is not CeFA's Protocol 4)."""
        table = (tables or load_tables()).dataset(self.dataset)
        if self.protocol is None:
            return list(table.rows)
        named = [row for row in table.rows if row.protocol == self.protocol]
        if named:
            return named
        table.row_of(self.protocol)  # refuses an unknown protocol, in one line
        return [Row(self.protocol, (self.protocol,))]


@cache
def load_tables(path: Path = TABLES_FILE) -> Tables:
    """``tables.yaml``, checked: a row's folds, a published value's row and source must all exist."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources = {str(k): dict(v) for k, v in document["sources"].items()}
    datasets = {str(name): _dataset(str(name), body, sources, path) for name, body in document["datasets"].items()}
    return Tables(datasets, sources)


def _dataset(name: str, body: dict[str, Any], sources: dict[str, Any], path: Path) -> DatasetTable:
    rows = tuple(Row(str(r["protocol"]), tuple(str(f) for f in r.get("folds", [r["protocol"]])), r.get("label"))
                 for r in body["rows"])
    table = DatasetTable(name, str(body["title"]), tuple(body["columns"]), rows,
                         tuple(str(p) for p in body.get("others", [])),
                         tuple(PublishedResult(str(p["method"]), str(p["source"]),
                                               {str(row): dict(cells) for row, cells in p["values"].items()})
                               for p in body.get("published", [])))
    names = table.protocols + [row.protocol for row in rows]
    problems = [f"protocol name {p!r} is not letters, digits and '_'" for p in names if not _NAME.match(p)]
    folds = [fold for row in rows for fold in row.folds]
    problems += [f"{fold} is in two rows" for fold in set(folds) if folds.count(fold) > 1]
    for result in table.published:
        problems += [f"{result.method}: no source {result.source!r}"] * (result.source not in sources)
        row_names = {row.protocol for row in rows}
        problems += [f"{result.method}: no row {row!r}" for row in result.values if row not in row_names]
    if problems:
        raise ValueError(f"{path}: {name}: {'; '.join(problems)}")
    return table
