"""Descriptive statistics and paired tests against values worked out by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.mushra.answers import load_key, load_ratings
from bench.mushra.stats import (
    describe,
    holm,
    paired_tests,
    per_condition,
    per_condition_item,
    quartiles,
)

from .analysis_data import make_key, panel

TWO = {
    "ref": ("reference", None, None, "hidden reference"),
    "a": ("codec", "opus", 16.0, "opus 16"),
    "b": ("codec", "mp3", 32.0, "mp3 32"),
}


def test_quartiles_are_the_recommendations_hinges():
    # Odd n: each half includes the median grade (BS.1534-3 section 4.1.2).
    assert quartiles([5, 1, 4, 2, 3]) == (2.0, 3.0, 4.0)
    assert quartiles([1, 2, 3, 4]) == (1.5, 2.5, 3.5)
    assert quartiles([1, 2, 3, 4, 5, 6, 7]) == (2.5, 4.0, 5.5)  # numpy would say 2.5, 5.5 too
    assert quartiles([10, 20, 30, 40, 50, 60]) == (20.0, 35.0, 50.0)  # numpy: 22.5, 47.5
    assert quartiles([7]) == (7.0, 7.0, 7.0)
    assert all(math.isnan(q) for q in quartiles([]))


def test_describe_by_hand():
    d = describe([10, 20, 30, 40])
    assert d["n"] == 4 and d["mean"] == 25
    sd = math.sqrt((225 + 25 + 25 + 225) / 3)  # 12.9099...
    assert d["sd"] == pytest.approx(sd)
    # t(0.975, 3) = 3.182446305284263 (tables); half-width t * sd / sqrt(4)
    assert d["ci95"] == pytest.approx(3.182446305284263 * sd / 2, rel=1e-9)
    assert d["ci_low"] == pytest.approx(25 - d["ci95"]) and d["ci_high"] == pytest.approx(
        25 + d["ci95"]
    )
    assert (d["q1"], d["median"], d["q3"], d["iqr"]) == (15.0, 25.0, 35.0, 20.0)
    one = describe([50])
    assert one["n"] == 1 and one["mean"] == 50 and math.isnan(one["ci95"])


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.2, math.nan, 0.01])  # NaN is outside the family of 2
    assert out[0] == pytest.approx(0.2) and math.isnan(out[1]) and out[2] == pytest.approx(0.02)
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1


def _table(
    tmp_path: Path, scores: dict[str, dict[str, list[float]]]
) -> tuple[object, pd.DataFrame]:
    """scores[condition][listener] = ratings on items 0..n-1."""
    n = len(next(iter(next(iter(scores.values())).values())))
    key = make_key(tmp_path, n_items=n, conditions=TWO)
    listeners = list(next(iter(scores.values())))

    def rate(listener: str, item: str, condition: str) -> float:
        return scores[condition][listener][int(item.removeprefix("item"))]

    paths = panel(tmp_path / "answers", key, listeners, rate)
    loaded = load_key(tmp_path / "key.json")
    return loaded, load_ratings(loaded, paths).table


SCORES = {
    "ref": {"p1": [100, 100, 95], "p2": [100, 90, 100]},
    "a": {"p1": [80, 70, 60], "p2": [90, 85, 75]},
    "b": {"p1": [40, 50, 45], "p2": [60, 55, 35]},
}


def test_per_condition_by_hand(tmp_path: Path):
    key, ratings = _table(tmp_path, SCORES)
    table = per_condition(ratings, key).set_index("condition_id")
    assert list(table.index) == ["ref", "b", "a"]  # reference first, codecs by name then rate
    a = table.loc["a"]
    values = [80, 70, 60, 90, 85, 75]
    assert a["n"] == 6 and a["n_listeners"] == 2 and a["n_items"] == 3
    assert a["mean"] == pytest.approx(460 / 6)
    # sorted 60 70 75 80 85 90: Q1 = median(60, 70, 75) = 70, Q3 = median(80, 85, 90) = 85
    assert (a["median"], a["q1"], a["q3"], a["iqr"]) == (77.5, 70.0, 85.0, 15.0)
    assert a["ci95"] == pytest.approx(
        2.570581835636314 * np.std(values, ddof=1) / math.sqrt(6), rel=1e-9
    )  # t(0.975, 5) = 2.5705818...
    # paired differences a - ref: -20 -30 -35 -10 -5 -25 -> mean -125/6
    assert a["diff_to_reference"] == pytest.approx(-125 / 6)
    assert table.loc["ref", "diff_to_reference"] == 0


def test_per_condition_item_by_hand(tmp_path: Path):
    key, ratings = _table(tmp_path, SCORES)
    table = per_condition_item(ratings, key).set_index(["item_id", "condition_id"])
    row = table.loc[("item02", "b")]
    assert row["n"] == 2 and row["mean"] == 40 and row["median"] == 40
    # t(0.975, 1) = 12.706204736174698; sd of (45, 35) = sqrt(50)
    assert row["ci95"] == pytest.approx(12.706204736174698 * math.sqrt(50) / math.sqrt(2))
    assert len(table) == 3 * 3


def test_wilcoxon_exact_p_and_holm(tmp_path: Path):
    # Six listeners, one item; a beats b by 1..6 points: all ranks positive, exact two-sided
    # p = 2 / 2^6 = 0.03125.
    scores = {
        "ref": {f"p{i}": [100] for i in range(6)},
        "a": {f"p{i}": [70 + i] for i in range(6)},
        "b": {f"p{i}": [70 - 1] for i in range(6)},
    }
    key, ratings = _table(tmp_path, scores)
    table = paired_tests(ratings, key).set_index(["condition_a", "condition_b"])
    row = table.loc[("b", "a")]
    assert row["n_pairs"] == 6 and row["n_nonzero"] == 6
    assert row["p"] == pytest.approx(0.03125)
    assert row["mean_diff"] == pytest.approx(-3.5) and row["median_diff"] == -3.5
    # ref - b: all +31, identical: ranks all tied, still all positive
    family = table["p"].dropna()
    assert len(family) == 3
    expected = holm(table["p"].tolist())
    assert table["p_holm"].tolist() == pytest.approx(expected)
    assert row["significant"] == (row["p_holm"] < 0.05)


def test_zero_differences_are_no_test(tmp_path: Path):
    scores = {
        "ref": {"p1": [100, 100], "p2": [100, 100]},
        "a": {"p1": [60, 70], "p2": [50, 40]},
        "b": {"p1": [60, 70], "p2": [50, 40]},  # identical to a
    }
    key, ratings = _table(tmp_path, scores)
    table = paired_tests(ratings, key).set_index(["condition_a", "condition_b"])
    row = table.loc[("b", "a")]
    assert math.isnan(row["p"]) and math.isnan(row["p_holm"]) and not row["significant"]
    assert row["note"] == "all paired differences are zero: no test"


def test_blocks_pair_through_the_item_and_count_each_condition_once(tmp_path: Path):
    # Two blocks per item, the reference on both screens (as the generator does): codec a in
    # block 0, codec b in block 1. The reference's two ratings of an item are averaged.
    key_doc = make_key(tmp_path, n_items=2, conditions=TWO, blocks=[["ref", "a"], ["ref", "b"]])
    assert len(key_doc["trials"]) == 4

    def rate(listener: str, item: str, condition: str) -> float:
        trial_block = {"a": 0, "b": 1}
        if condition == "ref":
            return 100  # on both screens
        return {"p1": 60, "p2": 70, "p3": 80}[listener] + 10 * trial_block[condition]

    paths = panel(tmp_path / "answers", key_doc, ["p1", "p2", "p3"], rate)
    key = load_key(tmp_path / "key.json")
    ratings = load_ratings(key, paths).table
    assert len(ratings[ratings["condition_id"] == "ref"]) == 3 * 2 * 2  # raw: per trial
    table = per_condition(ratings, key).set_index("condition_id")
    assert table.loc["ref", "n"] == 6 and table.loc["a", "n"] == 6  # listeners x items
    assert table.loc["a", "diff_to_reference"] == pytest.approx(-30)
    pairs = paired_tests(ratings, key).set_index(["condition_a", "condition_b"])
    row = pairs.loc[("b", "a")]
    assert row["n_pairs"] == 6 and row["mean_diff"] == pytest.approx(10)  # paired via the item
