"""Reading the results table: required columns, the rows that count, per-dataset facts.

The results table is what the runner writes to ``results.csv``: one row per (dataset, clip_id,
codec, target_kbps). Everything in :mod:`bench.report` reads it through these helpers so the
rules (which rows are scored, what a lossless point is, what a dataset's domain is) live in one
place.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.report.info import MetricInfo

#: Columns every analysis needs; the rest of results.csv is optional here.
REQUIRED_COLUMNS = ("dataset", "clip_id", "codec", "target_kbps", "actual_kbps", "status")

#: Reason given to a NaN metric value whose ``<metric>_reason`` cell is empty.
UNKNOWN_REASON = "unknown"


def check_results(results: pd.DataFrame) -> None:
    """Raise ``ValueError`` naming the missing columns when ``results`` is not a results table."""
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results table lacks column(s): {', '.join(missing)}")


def metric_columns(results: pd.DataFrame, metrics: Mapping[str, MetricInfo]) -> list[str]:
    """Metrics of ``metrics`` (in its order) that have a column in ``results``."""
    return [name for name in metrics if name in results.columns]


def ok_mask(results: pd.DataFrame) -> np.ndarray:
    """Boolean array: True for rows whose pipeline finished (``status == "ok"``)."""
    return (results["status"].astype(str) == "ok").to_numpy(dtype=bool)


def ok_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Rows whose encode/decode/score pipeline finished (``status == "ok"``)."""
    return results[ok_mask(results)]


def is_lossless(target_kbps: object) -> bool:
    """A lossless point has no target bitrate (NaN/None in ``target_kbps``)."""
    if target_kbps is None:
        return True
    try:
        return math.isnan(float(target_kbps))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def lossy_mask(rows: pd.DataFrame) -> np.ndarray:
    """Boolean array: True for rows of a lossy point (a numeric, non-NaN ``target_kbps``)."""
    return pd.to_numeric(rows["target_kbps"], errors="coerce").notna().to_numpy(dtype=bool)


def neural_codecs(results: pd.DataFrame) -> set[str]:
    """Codecs flagged ``neural`` in any row (no ``neural`` column: none)."""
    if "neural" not in results.columns:
        return set()
    flags = results["neural"].fillna(False).astype(bool).to_numpy(dtype=bool)
    return set(results["codec"].astype(str).to_numpy()[flags].tolist())


def dataset_domains(results: pd.DataFrame) -> dict[str, str]:
    """Dataset -> ``"speech"``/``"audio"`` (most common value of ``domain``; ``""`` if absent)."""
    # One pass over plain columns (a groupby and a mode per dataset cost more than the rest of
    # the call); ties go to the alphabetically first domain, as Series.mode sorts.
    datasets = results["dataset"]
    present = datasets.notna().to_numpy(dtype=bool)
    names = datasets.astype(str).to_numpy()
    seen: dict[str, list[str]] = {}
    if "domain" in results.columns:
        domain = results["domain"]
        known = domain.notna().to_numpy(dtype=bool)
        texts = domain.astype(str).to_numpy()
        for name, there, has, text in zip(names, present, known, texts, strict=True):
            if there:
                values = seen.setdefault(name, [])
                if has:
                    values.append(text)
    else:
        for name, there in zip(names, present, strict=True):
            if there:
                seen.setdefault(name, [])
    return {name: most_common(seen[name]) for name in sorted(seen)}


def synthetic_datasets(results: pd.DataFrame) -> list[str]:
    """Datasets with any row flagged ``synthetic`` (generated signals, not a corpus)."""
    if "synthetic" not in results.columns:
        return []
    flags = results["synthetic"].fillna(False).astype(bool)
    return sorted(set(results.loc[flags, "dataset"].astype(str)))


def reason_codes(rows: pd.DataFrame, metric: str) -> np.ndarray:
    """Per row of ``rows``: ``""`` where ``metric`` has a value, else its ``<metric>_reason``
    code (an empty or missing reason reads :data:`UNKNOWN_REASON`). Object array."""
    missing = np.isnan(numeric(rows, metric))
    column = f"{metric}_reason"
    if column in rows.columns:
        raw = rows[column].to_numpy(dtype=object)
        text = np.array(["" if pd.isna(r) else str(r).strip() for r in raw], dtype=object)
    else:
        text = np.full(len(rows), "", dtype=object)
    text[missing & (text == "")] = UNKNOWN_REASON
    text[~missing] = ""
    return text


def ranked_counts(values: Iterable[str]) -> list[tuple[str, int]]:
    """``(value, count)`` pairs, most frequent first, ties alphabetical (deterministic)."""
    return sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))


def most_common(values: Iterable[str]) -> str:
    """The most frequent value (ties broken alphabetically); ``""`` for no values."""
    ranked = ranked_counts(values)
    return ranked[0][0] if ranked else ""


def numeric(rows: pd.DataFrame, column: str) -> np.ndarray:
    """Column as float64 (non-numeric -> NaN); all-NaN when the column is absent."""
    if column not in rows.columns:
        return np.full(len(rows), np.nan)
    return pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=np.float64)


def row_groups(*columns: Sequence[object]) -> dict[tuple[object, ...], np.ndarray]:
    """Positions of the rows sharing each key (one value per column), rows in table order, keys
    in order of first appearance: ``groupby(..., sort=False).indices`` in plain Python (on the
    few hundred rows of a small run, pandas' set-up per call cost more than the grouping).
    Keys compare with ``==``, so NaN keys never group together: pass columns without NaN."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, key in enumerate(zip(*columns, strict=True)):
        groups.setdefault(key, []).append(i)
    return {key: np.array(rows, dtype=np.intp) for key, rows in groups.items()}
