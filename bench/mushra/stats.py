"""Statistics of MUSHRA ratings: per condition and per (condition, item), paired tests.

Descriptive statistics follow ITU-R BS.1534-3 section 10.3 (median and interquartile range
for each condition, plus means with 95 % confidence intervals). The quartiles are the
recommendation's own (section 4.1.2): the medians of the lower and upper halves of the sorted
grades, each half including the median grade when their number is odd (Tukey's hinges), not
numpy's interpolated percentiles. The 95 % CI of a mean is Student's t with n - 1 degrees of
freedom (:func:`bench.report.summary.ci95_halfwidth`, the report's own).

The unit of every statistic is one listener's score of one condition on one item
(:func:`cells`). With blocks (more conditions than fit one screen) an item is shown on several
trials, and the hidden reference and the anchors are on each of them: their ratings of the same
item by the same listener are averaged into one score, so every condition has one value per
listener and item and none weighs more for being shown more often. Per condition, the
statistics are over those scores (listeners x items); per (condition, item), over the
listeners. Paired tests compare two conditions on the scores the same listener gave the same
item (codecs in different blocks pair through the item): two-sided Wilcoxon signed-rank test
(differences of zero dropped, "wilcox"), p-values corrected for the family of all condition
pairs by Holm's step-down method, alpha 0.05.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.mushra.answers import CODEC, KINDS, REFERENCE, Key
from bench.report.summary import ci95_halfwidth

ALPHA = 0.05

#: Descriptive columns, in order, of the per-condition and per-(condition, item) tables.
DESCRIBE_COLUMNS = ("n", "mean", "ci95", "ci_low", "ci_high", "sd", "median", "q1", "q3", "iqr")

#: Columns of the paired-tests table.
PAIRED_COLUMNS = (
    "condition_a",
    "condition_b",
    "n_pairs",
    "n_nonzero",
    "mean_diff",
    "ci95",
    "median_diff",
    "statistic",
    "p",
    "p_holm",
    "significant",
    "note",
)


def _median_sorted(values: np.ndarray) -> float:
    n = values.size
    if n == 0:
        return math.nan
    mid = n // 2
    return float(values[mid]) if n % 2 else float((values[mid - 1] + values[mid]) / 2)


def quartiles(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """(Q1, median, Q3) as BS.1534-3 section 4.1.2 defines them (NaN for no values)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0:
        return math.nan, math.nan, math.nan
    if n % 2:  # odd: both halves include the median grade
        lower, upper = x[: (n + 1) // 2], x[(n - 1) // 2 :]
    else:
        lower, upper = x[: n // 2], x[n // 2 :]
    return _median_sorted(lower), _median_sorted(x), _median_sorted(upper)


def describe(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """n, mean, 95 % CI (half-width and bounds), sd, median, Q1, Q3 and IQR of ``values``."""
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    mean = float(np.mean(x)) if n else math.nan
    half = ci95_halfwidth(x)
    q1, median, q3 = quartiles(x)
    return {
        "n": n,
        "mean": mean,
        "ci95": half,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "sd": float(np.std(x, ddof=1)) if n > 1 else math.nan,
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
    }


def condition_order(key: Key, present: Sequence[str] | None = None) -> list[str]:
    """Conditions in display order: reference, codecs (by codec, then bitrate), mid anchor,
    low anchor; only those in ``present`` when given."""
    rank = {REFERENCE: 0, CODEC: 1, "anchor_lp70": 2, "anchor_lp35": 3}

    def sort_key(cid: str) -> tuple[int, str, float, str]:
        c = key.conditions[cid]
        rate = c.actual_kbps if c.actual_kbps is not None else (c.target_kbps or 0.0)
        return rank.get(c.kind, len(KINDS)), c.codec or "", rate, cid

    ids = list(key.conditions) if present is None else [c for c in key.conditions if c in present]
    return sorted(ids, key=sort_key)


def _label(key: Key, cid: str) -> str:
    return key.conditions[cid].label


def cells(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per (listener, item, condition): the mean of that listener's ratings of the
    condition on the item's trials (a single rating without blocks), and how many there were."""
    return (
        ratings.groupby(["listener", "item_id", "condition_id"], sort=True)["rating"]
        .agg(rating="mean", n_ratings="count")
        .reset_index()
    )


def per_condition(ratings: pd.DataFrame, key: Key) -> pd.DataFrame:
    """One row per condition: its descriptive statistics over the listener x item scores, and
    the difference to the hidden reference (mean and 95 % CI of the paired differences)."""
    scores = cells(ratings)
    refs = key.condition_ids(REFERENCE)
    ref = scores[scores["condition_id"].isin(refs[:1])]
    ref_by = ref.set_index(["listener", "item_id"])["rating"]
    rows = []
    for cid in condition_order(key, set(scores["condition_id"])):
        mine = scores[scores["condition_id"] == cid]
        row = {"condition_id": cid, "label": _label(key, cid), "kind": key.conditions[cid].kind}
        row.update(describe(mine["rating"].to_numpy()))
        row["n_listeners"] = int(mine["listener"].nunique())
        row["n_items"] = int(mine["item_id"].nunique())
        if refs and not ref.empty:
            joined = mine.set_index(["listener", "item_id"])["rating"]
            diff = (joined - ref_by.reindex(joined.index)).dropna().to_numpy()
            d = describe(diff)
            row["diff_to_reference"] = d["mean"]
            row["diff_to_reference_ci95"] = d["ci95"]
        else:
            row["diff_to_reference"] = math.nan
            row["diff_to_reference_ci95"] = math.nan
        rows.append(row)
    columns = [
        "condition_id",
        "label",
        "kind",
        *DESCRIBE_COLUMNS,
        "n_listeners",
        "n_items",
        "diff_to_reference",
        "diff_to_reference_ci95",
    ]
    return pd.DataFrame(rows, columns=columns)


def per_condition_item(ratings: pd.DataFrame, key: Key) -> pd.DataFrame:
    """One row per (condition, item): descriptive statistics over the listeners' scores."""
    ratings = cells(ratings)
    rows = []
    order = condition_order(key, set(ratings["condition_id"]))
    for item in sorted(set(ratings["item_id"])):
        for cid in order:
            mine = ratings[(ratings["condition_id"] == cid) & (ratings["item_id"] == item)]
            if mine.empty:
                continue
            row = {
                "item_id": item,
                "condition_id": cid,
                "label": _label(key, cid),
                "kind": key.conditions[cid].kind,
            }
            row.update(describe(mine["rating"].to_numpy()))
            rows.append(row)
    columns = ["item_id", "condition_id", "label", "kind", *DESCRIBE_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and are not in the family)."""
    p = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    running = 0.0
    for rank, index in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def paired_tests(ratings: pd.DataFrame, key: Key) -> pd.DataFrame:
    """Every pair of conditions: Wilcoxon signed-rank test on the paired scores (same
    listener, same item), Holm-corrected over all pairs; the difference is a minus b."""
    from scipy.stats import wilcoxon

    order = condition_order(key, set(ratings["condition_id"]))
    wide = cells(ratings).pivot(
        index=["listener", "item_id"], columns="condition_id", values="rating"
    )
    rows = []
    for a, b in itertools.combinations(order, 2):
        pair = wide[[a, b]].dropna()
        diff = (pair[a] - pair[b]).to_numpy(dtype=np.float64)
        d = describe(diff)
        nonzero = int(np.count_nonzero(diff))
        stat, p, note = math.nan, math.nan, ""
        if diff.size == 0:
            note = "no paired ratings"
        elif nonzero == 0:
            note = "all paired differences are zero: no test"
        else:
            result = wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
            stat, p = float(result.statistic), float(result.pvalue)
        rows.append(
            {
                "condition_a": a,
                "condition_b": b,
                "n_pairs": int(diff.size),
                "n_nonzero": nonzero,
                "mean_diff": d["mean"],
                "ci95": d["ci95"],
                "median_diff": d["median"],
                "statistic": stat,
                "p": p,
                "note": note,
            }
        )
    table = pd.DataFrame(
        rows, columns=[c for c in PAIRED_COLUMNS if c not in ("p_holm", "significant")]
    )
    table["p_holm"] = holm(table["p"].tolist()) if len(table) else []
    table["significant"] = table["p_holm"] < ALPHA
    return table[list(PAIRED_COLUMNS)]
