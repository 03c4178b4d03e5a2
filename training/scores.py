"""The one score schema shared by every model, and windows → videos aggregation.

A score table has one row per presentation (per video after aggregation) with the columns
``video_id, subject, is_bonafide, attack_type, score``. **A higher score means more bona fide**;
the decision rule that uses it lives in :mod:`training.metrics`. ``subject`` may be missing from an
external CSV (it is then added, empty). Any further column (``key``, ``n_windows``, ...) is kept.

Validation errors are ``ValueError`` naming the source (file), the column and the problem.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import replace_atomically

log = logging.getLogger(__name__)

#: Columns of the score schema, in order.
SCORE_COLUMNS = ("video_id", "subject", "is_bonafide", "attack_type", "score")
#: The ``attack_type`` of every bona fide presentation, and of no attack.
BONAFIDE = "bonafide"
#: Optional diagnostic columns ``head:<name>``: one network head's bona fide probability (SD-Net's
#: ``head:rgb/static``, ``head:whole``, ...). ``score`` alone decides; these say which branch carries a cue.
HEAD_PREFIX = "head:"

_TRUE = {"1", "true", "1.0"}
_FALSE = {"0", "false", "0.0"}


def _fail(source: str, column: str, problem: str) -> ValueError:
    return ValueError(f"{source}: column '{column}': {problem}")


def _examples(values: pd.Series, n: int = 3) -> str:
    return ", ".join(repr(v) for v in values.head(n).tolist())


def _parse_bool(column: pd.Series, source: str) -> pd.Series:
    if column.dtype == bool:
        return column.astype(bool)
    text = column.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    text = text.str.strip().str.lower()
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        raise _fail(source, "is_bonafide", f"expected 0/1/true/false, got {_examples(column[bad])}")
    return text.isin(_TRUE)


def _parse_score(column: pd.Series, source: str) -> pd.Series:
    numeric = pd.to_numeric(column, errors="coerce")
    nan_like = column.isna() | column.astype(str).str.strip().str.lower().isin({"", "nan", "none"})
    if nan_like.any():
        raise _fail(source, "score", f"{int(nan_like.sum())} NaN/missing value(s) "
                                     f"(row(s) {_examples(column[nan_like].index.to_series())})")
    if numeric.isna().any():
        raise _fail(source, "score", f"non-numeric value(s) {_examples(column[numeric.isna()])}")
    values = numeric.astype(np.float64)
    if not np.isfinite(values).all():
        raise _fail(source, "score", f"non-finite value(s) {_examples(values[~np.isfinite(values)])}")
    return values


def _parse_text(column: pd.Series, source: str, name: str, required: bool) -> pd.Series:
    missing = column.isna() | (column.astype(str).str.strip() == "")
    if required and missing.any():
        raise _fail(source, name, f"{int(missing.sum())} empty value(s)")
    out = column.astype(str).str.strip().astype(object)
    out[missing] = None
    return out


def validate_scores(table: pd.DataFrame, source: str = "<scores>", *, unique_video_id: bool = True) -> pd.DataFrame:
    """Check ``table`` against the score schema and return a normalised copy.

    ``is_bonafide`` becomes bool, ``score`` float64, ``video_id``/``subject``/``attack_type`` strings
    (``subject`` None when absent). ``unique_video_id=False`` allows several rows per video (window
    scores). Raises ``ValueError`` naming ``source``, the column and the problem.
    """
    missing = [c for c in SCORE_COLUMNS if c not in table.columns and c != "subject"]
    if missing:
        raise _fail(source, missing[0], f"missing column (need {', '.join(SCORE_COLUMNS)}; subject is optional)")
    out = table.copy()
    if "subject" not in out.columns:
        out["subject"] = None
    out["video_id"] = _parse_text(out["video_id"], source, "video_id", required=True)
    out["subject"] = _parse_text(out["subject"], source, "subject", required=False)
    out["attack_type"] = _parse_text(out["attack_type"], source, "attack_type", required=True)
    out["is_bonafide"] = _parse_bool(out["is_bonafide"], source)
    out["score"] = _parse_score(out["score"], source)
    labelled_bf = out["attack_type"] == BONAFIDE
    wrong = out["is_bonafide"] != labelled_bf
    if wrong.any():
        row = out[wrong].iloc[0]
        kind = "bona fide row" if row["is_bonafide"] else "attack row"
        raise _fail(source, "attack_type", f"{kind} for video {row['video_id']!r} has attack_type "
                    f"{row['attack_type']!r} ({int(wrong.sum())} such row(s)); bona fide rows, and only "
                    f"they, must have attack_type {BONAFIDE!r}")
    if unique_video_id:
        dup = out["video_id"].duplicated(keep=False)
        if dup.any():
            raise _fail(source, "video_id",
                        f"duplicate video_id(s) {_examples(out.loc[dup, 'video_id'].drop_duplicates())}")
    extra = [c for c in out.columns if c not in SCORE_COLUMNS]
    return out[list(SCORE_COLUMNS) + extra].reset_index(drop=True)


def read_score_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a video-level score CSV (one row per ``video_id``) from any model.

    Identifiers are read as text (``003`` stays ``003``); extra columns are kept.
    """
    path = Path(path)
    schema_text = {c: str for c in SCORE_COLUMNS}
    table = pd.read_csv(path, dtype=schema_text, keep_default_na=False)
    return validate_scores(table, str(path))


def write_score_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a score table atomically (temporary name, then rename)."""
    replace_atomically(Path(path), lambda tmp: table.to_csv(tmp, index=False, float_format="%.10g"))


def video_scores(window_scores: pd.DataFrame, source: str = "<window scores>") -> pd.DataFrame:
    """Aggregate window rows into one row per video: the video's score is the mean of its windows.

    Window rows follow the score schema (plus e.g. ``key``). ``subject``, ``is_bonafide`` and
    ``attack_type`` must agree across a video's windows (``ValueError`` otherwise). The result has
    the schema columns, ``n_windows`` and the mean of every ``head:`` column, sorted by ``video_id``.
    """
    windows = validate_scores(window_scores, source, unique_video_id=False)
    if windows.empty:
        raise ValueError(f"{source}: no window scores")
    grouped = windows.groupby("video_id", sort=True)
    for col in ("subject", "is_bonafide", "attack_type"):
        counts = grouped[col].nunique(dropna=False)
        if (counts > 1).any():
            vid = counts[counts > 1].index[0]
            seen = sorted(map(str, windows.loc[windows["video_id"] == vid, col].unique()))
            raise _fail(source, col, f"inconsistent labels within video {vid!r}: {seen}")
    heads = [c for c in windows.columns if str(c).startswith(HEAD_PREFIX)]
    videos = grouped.agg(subject=("subject", "first"), is_bonafide=("is_bonafide", "first"),
                         attack_type=("attack_type", "first"), score=("score", "mean"),
                         n_windows=("score", "size")).reset_index()
    videos = videos.join(grouped[heads].mean(), on="video_id") if heads else videos
    videos["is_bonafide"] = videos["is_bonafide"].astype(bool)
    log.debug("%s: %d windows -> %d videos", source, len(windows), len(videos))
    return videos[[*SCORE_COLUMNS, "n_windows", *heads]]
