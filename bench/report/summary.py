"""``summary.csv``: one row per (dataset, codec, target bitrate) point with means and 95 % CIs.

Column order (fixed; metric blocks follow the order of the ``metrics`` mapping, leaving out
metrics that have no column in the results table):

``dataset, codec, neural, target_kbps, n_clips, n_ok, n_failed, actual_kbps_mean,
actual_kbps_min, actual_kbps_max, encode_s_mean, decode_s_mean`` then, per metric ``m``:
``m_mean, m_ci95, m_n, m_n_nan, m_nan_reason``.

Rules: rate and time statistics use the ``status == ok`` rows only; a metric's statistics use the
ok rows where it is not NaN (``m_n``), and ``m_n + m_n_nan == n_ok``; ``m_nan_reason`` is the
most common reason among those NaN rows (ties: alphabetical). ``m_ci95`` is the half-width of the
95 % confidence interval of the mean from Student's t with ``m_n - 1`` degrees of freedom (NaN
when ``m_n < 2`` or a value is infinite).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

from bench.report.info import MetricInfo
from bench.report.student_t import t_quantile
from bench.report.table import (
    check_results,
    metric_columns,
    most_common,
    neural_codecs,
    numeric,
    reason_codes,
)

#: The per-point columns before the metric blocks.
LEAD_COLUMNS = (
    "dataset",
    "codec",
    "neural",
    "target_kbps",
    "n_clips",
    "n_ok",
    "n_failed",
    "actual_kbps_mean",
    "actual_kbps_min",
    "actual_kbps_max",
    "encode_s_mean",
    "decode_s_mean",
)
#: Suffixes of each metric's block, in order.
METRIC_SUFFIXES = ("mean", "ci95", "n", "n_nan", "nan_reason")


@lru_cache(maxsize=4096)
def _t975(dof: int) -> float:
    # The suite's own Student-t quantile: scipy.special.stdtrit's value (to a few ulp, tested),
    # without the 0.3 s its import costs every run, cached ones too.
    return t_quantile(0.975, dof)


def ci95_halfwidth(values: np.ndarray) -> float:
    """Half-width of the two-sided 95 % CI of the mean: ``t(0.975, n-1) * s / sqrt(n)``.

    ``s`` is the sample standard deviation (``ddof=1``). NaN for fewer than two values or any
    non-finite value (the spread of a set holding ``inf`` is undefined).
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n < 2 or not np.all(np.isfinite(values)):
        return math.nan
    return _t975(n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n)


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.mean(values)) if values.size else math.nan


def summary_columns(metric_names: list[str]) -> list[str]:
    """The full, ordered column list of a summary over ``metric_names``."""
    columns = list(LEAD_COLUMNS)
    for name in metric_names:
        columns += [f"{name}_{suffix}" for suffix in METRIC_SUFFIXES]
    return columns


def summarize(results: pd.DataFrame, metrics: Mapping[str, MetricInfo]) -> pd.DataFrame:
    """Per (dataset, codec, target_kbps) point: rate, counts, and per metric mean/CI/N/NaNs.

    Rows are sorted by dataset, codec, then target bitrate (a lossless point, NaN target, last).
    See the module docstring for the exact columns and rules.
    """
    check_results(results)
    names = metric_columns(results, metrics)
    neural = neural_codecs(results)
    # Whole-table arrays once; each point then only indexes them (fast on 100k-row tables).
    ok = results["status"].astype(str).to_numpy() == "ok"
    clips = results["clip_id"].astype(str).to_numpy()
    kbps, encode_s, decode_s = (
        numeric(results, c) for c in ("actual_kbps", "encode_s", "decode_s")
    )
    values = {name: numeric(results, name) for name in names}
    reasons = {name: reason_codes(results, name) for name in names}
    rows: list[dict[str, object]] = []
    grouped = results.groupby(["dataset", "codec", "target_kbps"], sort=True, dropna=False)
    for (dataset, codec, target), index in grouped.indices.items():
        used = index[ok[index]]
        rate = kbps[used][np.isfinite(kbps[used])]
        row: dict[str, object] = {
            "dataset": str(dataset),
            "codec": str(codec),
            "neural": str(codec) in neural,
            "target_kbps": float(target),
            "n_clips": len(set(clips[index])),
            "n_ok": len(used),
            "n_failed": len(index) - len(used),
            "actual_kbps_mean": _mean(kbps[used]),
            "actual_kbps_min": float(rate.min()) if rate.size else math.nan,
            "actual_kbps_max": float(rate.max()) if rate.size else math.nan,
            "encode_s_mean": _mean(encode_s[used]),
            "decode_s_mean": _mean(decode_s[used]),
        }
        for name in names:
            scored = values[name][used]
            scored = scored[~np.isnan(scored)]
            missing = [r for r in reasons[name][used] if r]
            row[f"{name}_mean"] = float(np.mean(scored)) if scored.size else math.nan
            row[f"{name}_ci95"] = ci95_halfwidth(scored)
            row[f"{name}_n"] = int(scored.size)
            row[f"{name}_n_nan"] = len(missing)
            row[f"{name}_nan_reason"] = most_common(missing)
        rows.append(row)
    table = pd.DataFrame(rows, columns=summary_columns(names))
    # Sorting again after the groupby keeps NaN targets (lossless) last whatever pandas does.
    table = table.sort_values(
        ["dataset", "codec", "target_kbps"], na_position="last", kind="stable"
    ).reset_index(drop=True)
    return table
