"""Post-screening of assessors as ITU-R BS.1534-3 (10/2015), section 4.1.2.

The recommendation's two exclusion rules:

1. an assessor is excluded who rates the hidden reference *lower than a score of 90* for
   *more than 15 % of the test items*;
2. an assessor is excluded who rates the mid-range anchor (the 7 kHz low-pass, condition kind
   ``anchor_lp70``) *higher than a score of 90* for *more than 15 % of the test items*;

with the exception of rule 2: if more than 25 % of the assessors rate the mid-range anchor
higher than 90 on an item, the item was probably not degraded enough by the anchor, and
assessors are not excluded on the basis of their scores for that item.

How the words are read here (documented in docs/mushra.md, tested at each boundary):

* "lower than 90" is ``rating < 90`` and "higher than 90" is ``rating > 90`` (90 passes both).
* "more than 15 %" and "more than 25 %" are strict: ``count / n > 0.15`` (with integers, so
  3 of 20 items = 15 % is kept and 4 of 20 is excluded).
* A test item is one trial (one item on one screen). With one block, trials and items are the
  same; with blocks, an item shown in two blocks counts as two presentations.
* The exception is decided per trial over every assessor who rated that trial's mid anchor,
  before anyone is excluded (one pass, not iterated). An excepted trial stays in the
  denominator of rule 2 ("of the test items") and cannot add to its numerator.
* Without a hidden reference, or a mid anchor, in the key the rule that needs it is not
  applied, and the report says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bench.mushra.answers import MID_ANCHOR, REFERENCE

#: The recommendation's thresholds.
SCORE_LIMIT = 90.0
ITEM_SHARE_PERCENT = 15
ANCHOR_EXCEPTION_PERCENT = 25

#: Columns of the screening table (one row per listener).
SCREENING_COLUMNS = (
    "listener",
    "n_items",
    "reference_below_90",
    "reference_share",
    "mid_anchor_items",
    "mid_anchor_above_90",
    "mid_anchor_share",
    "excluded",
    "reason",
)

CITATION = "ITU-R BS.1534-3 (10/2015), section 4.1.2 (post-screening of assessors)"


@dataclass(frozen=True)
class Screening:
    """The outcome of post-screening: a row per listener, the trials excepted from rule 2, and
    which rules could be applied."""

    table: pd.DataFrame
    excepted_trials: list[str]
    applied: bool
    rules: list[str]

    @property
    def excluded(self) -> list[str]:
        """The listeners excluded, in table order."""
        return [str(x) for x in self.table.loc[self.table["excluded"], "listener"]]


def _more_than(count: int, total: int, percent: int) -> bool:
    # Integer comparison: "more than 15 %" of 20 items is 4 or more, with no float rounding.
    return total > 0 and 100 * count > percent * total


def excepted_trials(ratings: pd.DataFrame) -> list[str]:
    """Trials whose mid anchor more than 25 % of the assessors rated higher than 90."""
    mid = ratings[ratings["kind"] == MID_ANCHOR]
    out = []
    for trial, rows in mid.groupby("trial_id", sort=True):
        listeners = rows["listener"].nunique()
        above = rows.loc[rows["rating"] > SCORE_LIMIT, "listener"].nunique()
        if _more_than(above, listeners, ANCHOR_EXCEPTION_PERCENT):
            out.append(str(trial))
    return out


def screen(ratings: pd.DataFrame, *, enabled: bool = True) -> Screening:
    """Apply section 4.1.2 to the ratings table of :func:`bench.mushra.answers.load_ratings`.

    With ``enabled=False`` the table is still computed (so the report shows the counts) but
    nobody is excluded.
    """
    has_ref = bool((ratings["kind"] == REFERENCE).any())
    has_mid = bool((ratings["kind"] == MID_ANCHOR).any())
    excepted = excepted_trials(ratings) if has_mid else []
    rules: list[str] = []
    rules.append(
        "hidden reference rated below 90 on more than 15 % of the items"
        if has_ref
        else "hidden-reference rule NOT applied: no hidden reference in the key"
    )
    rules.append(
        "mid anchor (7 kHz low-pass) rated above 90 on more than 15 % of the items, items "
        "where more than 25 % of the assessors rate it above 90 excepted"
        if has_mid
        else "mid-anchor rule NOT applied: no anchor_lp70 condition in the key"
    )
    rows = []
    for listener, mine in ratings.groupby("listener", sort=True):
        n_items = int(mine["trial_id"].nunique())
        ref = mine[mine["kind"] == REFERENCE]
        # A trial may hold more than one hidden reference in principle: a trial counts once.
        ref_low = int(ref.loc[ref["rating"] < SCORE_LIMIT, "trial_id"].nunique())
        mid = mine[mine["kind"] == MID_ANCHOR]
        mid_high_rows = mid[(mid["rating"] > SCORE_LIMIT) & ~mid["trial_id"].isin(excepted)]
        mid_high = int(mid_high_rows["trial_id"].nunique())
        mid_items = int(mid["trial_id"].nunique())
        reasons: list[str] = []
        if has_ref and _more_than(ref_low, n_items, ITEM_SHARE_PERCENT):
            reasons.append(f"hidden reference below 90 on {ref_low} of {n_items} items")
        if has_mid and _more_than(mid_high, n_items, ITEM_SHARE_PERCENT):
            reasons.append(f"mid anchor above 90 on {mid_high} of {n_items} items")
        rows.append(
            {
                "listener": str(listener),
                "n_items": n_items,
                "reference_below_90": ref_low,
                "reference_share": ref_low / n_items if n_items else float("nan"),
                "mid_anchor_items": mid_items,
                "mid_anchor_above_90": mid_high,
                "mid_anchor_share": mid_high / n_items if n_items else float("nan"),
                "excluded": bool(reasons) and enabled,
                "reason": "; ".join(reasons),
            }
        )
    table = pd.DataFrame(rows, columns=list(SCREENING_COLUMNS))
    table["excluded"] = table["excluded"].astype(bool)
    return Screening(table, excepted, enabled, rules)


def kept(ratings: pd.DataFrame, screening: Screening) -> pd.DataFrame:
    """The ratings of the listeners that screening keeps."""
    return ratings[~ratings["listener"].isin(screening.excluded)].reset_index(drop=True)


def summary_lines(screening: Screening, listeners: Sequence[str]) -> list[str]:
    """What to print about screening: rules applied, who was excluded and why."""
    if not screening.applied:
        lines = ["post-screening: OFF (--no-screening): every listener kept"]
    else:
        lines = [f"post-screening ({CITATION}):"]
        lines += [f"  rule: {r}" for r in screening.rules]
    if screening.excepted_trials:
        lines.append(
            "  mid-anchor rule not applied on trial(s) "
            + ", ".join(screening.excepted_trials)
            + " (more than 25 % of the assessors rated the mid anchor above 90)"
        )
    flagged = screening.table[screening.table["reason"] != ""]
    for row in flagged.itertuples():
        verb = "excluded" if screening.applied else "would be excluded"
        lines.append(f"  {verb}: {row.listener}: {row.reason}")
    n_kept = len(listeners) - len(screening.excluded)
    lines.append(f"  {n_kept} of {len(listeners)} listeners kept")
    return lines
