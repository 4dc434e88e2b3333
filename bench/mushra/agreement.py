"""Agreement of the listening test with the objective metrics, on the very same stimuli.

Each stimulus of key.json carries the suite's metric values computed on the rendered stimulus
against the rendered reference excerpt (``stimuli[*].objective``). The MUSHRA score of a
stimulus is the mean rating of the kept listeners; per metric, Pearson's r (with a 95 % CI
from Fisher's z transform and its p-value) and Spearman's rho (with its p-value) are computed
over the stimuli where the metric has a finite value. A null, NaN or infinite objective value
is left out and counted (``n_missing``), never filled.

Which stimuli enter (``conditions``):

* ``"codecs"`` (default): only the codec conditions. The hidden reference scores an infinite
  or ceiling value on most metrics (it *is* the reference), and the low-pass anchors are a
  different kind of impairment placed at fixed quality levels on purpose; with them in, every
  metric "agrees" merely because the extremes are far apart. The question a user asks is
  whether a metric ranks the codecs as listeners do.
* ``"all"``: every stimulus (reference and anchors included), for comparison with studies that
  report it that way.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.mushra.answers import CODEC, Key

AGREEMENT_SETS = ("codecs", "all")

#: Columns of the agreement table (one row per objective metric).
AGREEMENT_COLUMNS = (
    "metric",
    "conditions",
    "n",
    "n_missing",
    "n_items",
    "pearson_r",
    "pearson_ci_low",
    "pearson_ci_high",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "note",
)


def stimulus_scores(ratings: pd.DataFrame, key: Key) -> pd.DataFrame:
    """One row per rated stimulus: its item, condition, kind, the mean MUSHRA rating and N,
    and the ``objective:<metric>`` columns from the key."""
    scores = (
        ratings.groupby("stimulus_id", sort=True)["rating"]
        .agg(mushra_mean="mean", n_listeners="count")
        .reset_index()
    )
    objective = key.objective()
    return objective.merge(scores, on="stimulus_id", how="inner")


def pearson_ci(r: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """CI of Pearson's r by Fisher's z transform (NaN for n <= 3 or |r| = 1 undefined)."""
    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    from scipy.special import ndtri

    if abs(r) >= 1.0:
        return r, r
    z = math.atanh(r)
    half = float(ndtri(0.5 + level / 2)) / math.sqrt(n - 3)
    return math.tanh(z - half), math.tanh(z + half)


def agreement(scores: pd.DataFrame, conditions: str = "codecs") -> pd.DataFrame:
    """Per objective metric, Pearson and Spearman correlation of the MUSHRA means with it."""
    if conditions not in AGREEMENT_SETS:
        raise ValueError(f"conditions must be one of {AGREEMENT_SETS}, got {conditions!r}")
    from scipy.stats import pearsonr, spearmanr

    part = scores if conditions == "all" else scores[scores["kind"] == CODEC]
    rows = []
    for column in [c for c in scores.columns if c.startswith("objective:")]:
        values = part[column].to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        x, y = values[finite], part["mushra_mean"].to_numpy(dtype=np.float64)[finite]
        row: dict[str, object] = {
            "metric": column.split(":", 1)[1],
            "conditions": conditions,
            "n": int(finite.sum()),
            "n_missing": int((~finite).sum()),
            "n_items": int(part.loc[finite, "item_id"].nunique()),
            "pearson_r": math.nan,
            "pearson_ci_low": math.nan,
            "pearson_ci_high": math.nan,
            "pearson_p": math.nan,
            "spearman_rho": math.nan,
            "spearman_p": math.nan,
            "note": "",
        }
        if x.size < 3:
            row["note"] = "fewer than 3 stimuli with a value"
        elif np.ptp(x) == 0 or np.ptp(y) == 0:
            row["note"] = "constant values: correlation undefined"
        else:
            r, p = pearsonr(x, y)
            rho, p_s = spearmanr(x, y)
            low, high = pearson_ci(float(r), int(x.size))
            row.update(
                pearson_r=float(r),
                pearson_ci_low=low,
                pearson_ci_high=high,
                pearson_p=float(p),
                spearman_rho=float(rho),
                spearman_p=float(p_s),
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(AGREEMENT_COLUMNS))
