"""Stage defaults from ``params.yaml``: each stage reads its own section, and its dataset's raw root.

The file is the one given (``--params``), else the working directory's, else the repository's; the first
that has the section asked for. Outside a project (no such file anywhere) a section is empty: every
setting then takes its built-in default and the command needs its paths on the command line. A key a
section does not know is refused, naming the closest known one: a typo must not run with a default.
"""
from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError

REPO = Path(__file__).resolve().parent.parent


def _candidates(path: Path | None) -> list[Path]:
    return [path] if path else [Path("params.yaml"), REPO / "params.yaml"]


def _document(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UsageError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path}: expected a mapping of sections (shard:, train:, …)")
    return document


def find_section(section: str, path: Path | None = None) -> tuple[Path | None, Any]:
    """(the params file, its ``section``) from the first candidate that has it; (None, None) when none does.
    A file given with ``--params`` must exist."""
    if path is not None and not path.is_file():
        raise UsageError(f"--params {path}: no such file")
    for candidate in _candidates(path):
        if candidate.is_file():
            document = _document(candidate)
            if section in document:
                return candidate, document[section]
    return None, None


def load_section(section: str, path: Path | None = None, known: Iterable[str] | None = None) -> dict[str, Any]:
    """The ``section`` mapping of ``params.yaml`` (empty outside a project), every key checked against ``known``."""
    source, values = find_section(section, path)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UsageError(f"{source}: '{section}' must be a mapping of settings")
    if known is not None:
        check_keys(section, values, set(known), source)
    return values


def check_keys(section: str, values: dict[str, Any], known: set[str], source: Path | None) -> None:
    """Refuse a key ``section`` does not have (``epoch: 2`` would silently train the default 10 epochs)."""
    for key in sorted(set(values) - known):
        hint = suggestion(key, known, f"{section}.")
        raise UsageError(f"{source}: {section}.{key} is not a setting of {section}; {hint}")


def suggestion(name: str, known: Iterable[str], prefix: str = "") -> str:
    """The hint after a refused name: ``did you mean <prefix><the closest known name>?``, or the known names."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {prefix}{close[0]}?" if close else f"known: {', '.join(names)}"


def check_types(section: str, settings: Any) -> None:
    """Refuse a setting of the wrong type in the dataclass ``settings`` (``epochs: two``, ``crop_size: 64.5``,
    ``fail_on_corrupt: maybe``) before any work starts: further on it would be a TypeError, or look like bad data."""
    for name, hint in typing.get_type_hints(type(settings)).items():
        value = getattr(settings, name)
        if not _matches(value, hint):
            raise UsageError(f"{section}.{name} = {value!r}: expected {_describe(hint)}")


def _matches(value: Any, hint: Any) -> bool:
    if hint is Any:
        return True
    if _is_union(hint):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) is tuple:  # tuple[int, ...]: YAML gives a list
        item = typing.get_args(hint)[0]
        return isinstance(value, (list, tuple)) and all(_matches(v, item) for v in value)
    if hint is float:  # YAML writes 1 for 1.0
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:  # bool is an int to Python, not to a user
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _describe(hint: Any) -> str:
    if _is_union(hint):
        return " or ".join(_describe(option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a list ({_describe(typing.get_args(hint)[0])} each)"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "text", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def raw_root(dataset: str, path: Path | None = None) -> Path:
    """Where ``dataset``'s raw release is read from: its entry in the ``raw`` mapping of ``params.yaml``."""
    source, roots = find_section("raw", path)
    if not roots or dataset not in roots:
        where = f"{source}'s raw mapping has {sorted(roots or {})}" if source else "no params.yaml has a raw mapping"
        raise UsageError(f"no raw root for {dataset!r} ({where}): pass --root, or add '{dataset}: <folder>' under raw:")
    return Path(str(roots[dataset]))
