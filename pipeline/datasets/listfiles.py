"""Reading official protocol list files: one loop for every format, the format in a small callback."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from .records import ListEntry
from ..paths import escapes_root

LineParser = Callable[[re.Match, list[str], str], ListEntry]


class ListFormatError(ValueError):
    """A list line that does not follow its format; the message names the file and the line."""


def read_list_files(
    lists_dir: Path, path_pattern: re.Pattern, parse_line: LineParser, recursive: bool = True
) -> list[ListEntry]:
    """Parse every file under ``lists_dir`` whose relative path matches ``path_pattern`` (searched).

    ``parse_line(match, tokens, source)`` turns the whitespace-split tokens of one non-empty line into
    a :class:`ListEntry`; ``match`` is the path match (protocol and split groups come from it).
    ``recursive=False`` looks only at the files directly in ``lists_dir`` (lists inside a raw tree).
    """
    entries = []
    candidates = lists_dir.rglob("*") if recursive else lists_dir.iterdir()
    for path in sorted(p for p in candidates if p.is_file()):
        match = path_pattern.search(path.relative_to(lists_dir).as_posix())
        if not match:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            tokens = line.replace(",", " ").split() if path.suffix == ".csv" else line.split()
            if not tokens:
                continue
            try:
                _refuse_escaping_paths(tokens)
                entries.append(parse_line(match, tokens, path.name))
            except (ValueError, IndexError, KeyError) as error:
                raise ListFormatError(f"{path}:{number}: cannot parse {line!r}: {error}") from None
    return entries


def _refuse_escaping_paths(tokens: list[str]) -> None:
    """A list names recordings inside the dataset: an absolute path or a ``..`` step is refused."""
    for token in tokens:
        if ("/" in token or "\\" in token) and escapes_root(token):
            raise ValueError(f"path {token!r} points outside the dataset root")


@dataclass(frozen=True)
class BinaryLabels:
    """A list format's 0/1 label polarity, stated once: reading and writing lists both use it."""

    bonafide: str  # the token that means bona fide, "0" or "1"

    def __post_init__(self) -> None:
        if self.bonafide not in ("0", "1"):
            raise ValueError(f"bona fide token {self.bonafide!r} is not 0 or 1")

    def parse(self, token: str) -> bool:
        """``True`` when ``token`` is the format's bona fide value; refuses anything but 0/1."""
        if token not in ("0", "1"):
            raise ValueError(f"label {token!r} is not 0 or 1")
        return token == self.bonafide

    def format(self, is_bonafide: bool) -> str:
        return self.bonafide if is_bonafide else str(1 - int(self.bonafide))


#: CASIA-FAS-Dataset's lists: ``0`` = bona fide, ``1`` = attack.
FAS_DATASET_LABELS = BinaryLabels(bonafide="0")


@dataclass(frozen=True)
class FasDatasetLists:
    """The video lists of liuajian/CASIA-FAS-Dataset for a release that ships no protocol lists.

    ``<folder>/video_{train,dev,test}.txt``, one line per video: ``<folder>/<path in the release, without
    suffix> <label>`` (``ReplayAttack/train/attack/fixed/attack_print_client001_… 1``), **0 = bona fide**.
    They list the release's own split, our ``protocol`` (``grandtest``); where a release has no dev split
    their dev list repeats the training list.
    """

    folder: str  # the lists' dataset folder: CASIA_FASD, ReplayAttack, MSU_MFSD
    protocol: str
    #: the path of a video inside the release, without suffix (``train/real/client001_…``) → its video id
    video_id: Callable[[PurePosixPath], str]
    #: a ``path_rgb`` of videos.parquet → the same path inside the release, without suffix
    release_path: Callable[[str], PurePosixPath]

    def read(self, lists_dir: Path) -> list[ListEntry]:
        """Every ``video_{train,dev,test}.txt`` of this folder under ``lists_dir`` (an adapter's ``read_lists``)."""
        pattern = re.compile(rf"^(?:(?:.*/)?{re.escape(self.folder)}/)?video_(?P<split>train|dev|test)\.txt$")
        return read_list_files(lists_dir, pattern, self._parse_line)

    def _parse_line(self, match: re.Match, tokens: list[str], source: str) -> ListEntry:
        rel, token = tokens
        path = PurePosixPath(rel)
        if path.parts[0] != self.folder:
            raise ValueError(f"path {rel!r} is not under {self.folder}/")
        video_id = self.video_id(PurePosixPath(*path.parts[1:]))
        return ListEntry(self.protocol, match["split"], video_id, FAS_DATASET_LABELS.parse(token), source)

    def format(self, members: pd.DataFrame, spec: object = None) -> dict[str, list[str]]:
        """The list files of the protocol these lists cover (an adapter's ``format_lists``; ``spec`` unused)."""
        files = {}
        for split, rows in members[members["protocol"] == self.protocol].groupby("split"):
            files[f"{self.folder}/video_{split}.txt"] = [
                f"{self.folder}/{self.release_path(path)} {FAS_DATASET_LABELS.format(bonafide)}"
                for path, bonafide in zip(rows["path_rgb"], rows["is_bonafide"])
            ]
        return files
