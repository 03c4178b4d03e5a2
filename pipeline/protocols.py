"""Protocols as data: ``protocols/<dataset>.yaml`` rules over the attributes of ``videos.parquet``.

A protocol has splits; a split is a list of clauses (a recording belongs when any clause matches);
a clause maps column names to conditions, all of which must hold:

* a list — the value is one of them (``ethnicity: [AF]``);
* a scalar — the value equals it (``source_split: train``);
* ``{between: [low, high]}`` — inclusive range;
* ``{not_in: [...]}`` — the value is none of them.

A split may also restrict the modalities a model may use (CeFA Protocol 3) and the frames it may
read (``frame_limit: 60``: SiW Protocol 1 trains on the first 60 frames). A release without a dev split
(CASIA-FASD, MSU-MFSD) says so with ``dev: {same_as: train}``: the dev split is the training split, a
place to choose a threshold but nothing held out, and :attr:`Protocol.same_as` records it, so a
cross-dataset protocol never takes it for validation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

SPEC_DIR = Path(__file__).resolve().parent.parent / "protocols"
SPLITS = ("train", "dev", "test")
_CLAUSE_OPERATORS = {"between", "not_in"}
PROTOCOL_COLUMNS = ["protocol", "split", "video_id", "modalities", "frame_limit"]


class ProtocolError(ValueError):
    """A protocol definition is malformed, or the membership it yields violates the protocol."""


@dataclass(frozen=True)
class SplitRule:
    clauses: tuple[dict[str, Any], ...]
    modalities: tuple[str, ...]
    frame_limit: int | None


@dataclass(frozen=True)
class Protocol:
    name: str
    aliases: tuple[str, ...]
    description: str
    splits: dict[str, SplitRule]
    disjoint_subjects: tuple[tuple[str, str], ...]
    #: split → the split it repeats (``{"dev": "train"}``: the release has no dev split of its own)
    same_as: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProtocolSpec:
    dataset: str
    source: Path
    protocols: dict[str, Protocol]

    def resolve(self, name: str) -> str:
        """Canonical protocol name for a name or alias (``4@1``, ``p4.1`` → ``4_1``)."""
        for protocol in self.protocols.values():
            if name == protocol.name or name in protocol.aliases:
                return protocol.name
        raise ProtocolError(f"{self.source}: no protocol or alias {name!r}; known: {sorted(self.protocols)}")


def load_spec(dataset: str, spec_dir: Path = SPEC_DIR) -> ProtocolSpec:
    """Load and validate ``<spec_dir>/<dataset>.yaml``."""
    source = spec_dir / f"{dataset}.yaml"
    if not source.is_file():
        raise ProtocolError(f"no protocol definitions for {dataset!r}: {source} does not exist")
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    defaults = document.get("defaults", {})
    protocols = {}
    for name, body in document["protocols"].items():
        protocols[str(name)] = _parse_protocol(str(name), body, defaults, source)
    return ProtocolSpec(dataset=document["dataset"], source=source, protocols=protocols)


def _parse_protocol(name: str, body: dict, defaults: dict, source: Path) -> Protocol:
    where = f"{source}: protocol {name!r}"
    unknown = set(body) - {"aliases", "description", "splits", "modalities", "disjoint_subjects"}
    if unknown:
        raise ProtocolError(f"{where}: unknown keys {sorted(unknown)}")
    if set(body.get("splits", {})) != set(SPLITS):
        raise ProtocolError(f"{where}: needs exactly the splits {SPLITS}, has {sorted(body.get('splits', {}))}")
    modalities = body.get("modalities", defaults.get("modalities"))
    splits, same_as = {}, {}
    for split, rule in body["splits"].items():
        if isinstance(rule, dict) and set(rule) == {"same_as"}:
            same_as[split] = rule["same_as"]
            continue
        if not isinstance(rule, dict) or "where" not in rule:
            raise ProtocolError(f"{where}, split {split!r}: expected a mapping with 'where' (or only 'same_as')")
        clauses = tuple(rule["where"])
        for clause in clauses:
            _check_clause(clause, f"{where}, split {split!r}")
        split_modalities = rule.get("modalities", modalities)
        if not split_modalities:
            raise ProtocolError(f"{where}, split {split!r}: no modalities (set them here or in defaults)")
        splits[split] = SplitRule(clauses, tuple(split_modalities), rule.get("frame_limit"))
    for split, other in same_as.items():
        if other not in splits:
            raise ProtocolError(f"{where}, split {split!r}: same_as {other!r} is not a split with its own rule")
        splits[split] = splits[other]
    pairs = body.get("disjoint_subjects", defaults.get("disjoint_subjects", []))
    return Protocol(
        name=name,
        aliases=tuple(str(a) for a in body.get("aliases", [])),
        description=body.get("description", ""),
        splits={split: splits[split] for split in SPLITS},
        disjoint_subjects=tuple(tuple(pair) for pair in pairs),
        same_as=same_as,
    )


def _check_clause(clause: Any, where: str) -> None:
    if not isinstance(clause, dict) or not clause:
        raise ProtocolError(f"{where}: a clause must be a non-empty mapping of column to condition, got {clause!r}")
    for column, condition in clause.items():
        if isinstance(condition, dict) and (len(condition) != 1 or set(condition) - _CLAUSE_OPERATORS):
            raise ProtocolError(f"{where}: condition on {column!r} must be one of {sorted(_CLAUSE_OPERATORS)}")


def clause_mask(videos: pd.DataFrame, clause: dict[str, Any]) -> pd.Series:
    """Rows of ``videos`` that satisfy every condition of ``clause``."""
    mask = pd.Series(True, index=videos.index)
    for column, condition in clause.items():
        if column not in videos.columns:
            # a dataset tree without, say, masks has no mask columns: nothing can match
            return pd.Series(False, index=videos.index)
        values = videos[column]
        if isinstance(condition, dict) and "between" in condition:
            low, high = condition["between"]
            mask &= values.between(low, high).fillna(False).astype(bool)
        elif isinstance(condition, dict):
            mask &= ~values.isin(condition["not_in"])
        elif isinstance(condition, list):
            mask &= values.isin(condition)
        else:
            mask &= values == condition
    return mask


def apply_spec(spec: ProtocolSpec, videos: pd.DataFrame) -> pd.DataFrame:
    """The long-format membership table (``protocols.parquet``) the rules give for ``videos``."""
    frames = []
    for protocol in spec.protocols.values():
        for split, rule in protocol.splits.items():
            mask = pd.Series(False, index=videos.index)
            for clause in rule.clauses:
                mask |= clause_mask(videos, clause)
            ids = videos.loc[mask, "video_id"]
            frames.append(
                pd.DataFrame(
                    {
                        "protocol": protocol.name,
                        "split": split,
                        "video_id": ids.to_numpy(),
                        "modalities": [list(rule.modalities)] * len(ids),
                        "frame_limit": rule.frame_limit,
                    }
                )
            )
    return _typed(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PROTOCOL_COLUMNS))


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    table = table[PROTOCOL_COLUMNS].copy()
    table["frame_limit"] = table["frame_limit"].astype("Int64")
    return table.sort_values(["protocol", "split", "video_id"], ignore_index=True)


def check_membership(spec: ProtocolSpec, videos: pd.DataFrame, membership: pd.DataFrame) -> list[str]:
    """Violations that make a protocol unusable: shared subjects and one-class or empty splits."""
    problems = []
    table = membership.merge(videos[["video_id", "subject", "is_bonafide"]], on="video_id", how="left")
    for name, protocol in spec.protocols.items():
        rows = table[table["protocol"] == name]
        if rows.empty:
            continue  # not produced for this tree (e.g. a challenge release holds only Protocol 4)
        for split in SPLITS:
            labels = set(rows.loc[rows["split"] == split, "is_bonafide"])
            if True not in labels or False not in labels:
                missing = "bona fide" if True not in labels else "attack"
                problems.append(f"protocol {name}, split {split}: no {missing} recording")
        for first, second in protocol.disjoint_subjects:
            shared = (set(rows.loc[rows["split"] == first, "subject"])
                      & set(rows.loc[rows["split"] == second, "subject"]))
            if shared:
                problems.append(f"protocol {name}: {first} and {second} share subjects {sorted(shared)[:5]}")
    return problems
