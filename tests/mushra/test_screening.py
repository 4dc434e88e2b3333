"""Post-screening as ITU-R BS.1534-3 section 4.1.2, at each boundary the recommendation draws."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.mushra.answers import load_key, load_ratings
from bench.mushra.screening import excepted_trials, kept, screen, summary_lines

from .analysis_data import CONDITIONS, make_key, panel, typical

LISTENERS = ("ann", "bob", "cyd", "dee")


def _ratings(tmp_path: Path, rate, n_items: int = 20, conditions=None) -> pd.DataFrame:
    key = make_key(tmp_path, n_items=n_items, conditions=conditions)
    paths = panel(tmp_path / "answers", key, LISTENERS, rate)
    return load_ratings(load_key(tmp_path / "key.json"), paths).table


def _item(item: str) -> int:
    return int(item.removeprefix("item"))


def _reference_low(who: str, items: int, score: float = 80):
    def rate(listener: str, item: str, condition: str) -> float:
        if listener == who and condition == "ref" and _item(item) < items:
            return score
        return typical(listener, item, condition)

    return rate


def _row(result, listener: str) -> pd.Series:
    return result.table.set_index("listener").loc[listener]


@pytest.mark.parametrize(("items", "excluded"), [(3, False), (4, True)])
def test_hidden_reference_rule_at_15_percent(tmp_path: Path, items: int, excluded: bool):
    # 3 of 20 items is exactly 15 %: not "more than 15 %", kept; 4 of 20 is 20 %: excluded.
    result = screen(_ratings(tmp_path, _reference_low("bob", items)))
    row = _row(result, "bob")
    assert row["reference_below_90"] == items and row["n_items"] == 20
    assert bool(row["excluded"]) is excluded
    assert result.excluded == (["bob"] if excluded else [])
    if excluded:
        assert row["reason"] == "hidden reference below 90 on 4 of 20 items"


def test_a_score_of_90_is_not_lower_than_90(tmp_path: Path):
    result = screen(_ratings(tmp_path, _reference_low("bob", 10, score=90)))
    assert _row(result, "bob")["reference_below_90"] == 0 and result.excluded == []
    result = screen(_ratings(tmp_path / "b", _reference_low("bob", 10, score=89.5)))
    assert result.excluded == ["bob"]


def _mid_high(high: dict[str, int], score: float = 95):
    """Listener -> how many of the first items they rate the mid anchor at ``score``."""

    def rate(listener: str, item: str, condition: str) -> float:
        if condition == "lp70" and _item(item) < high.get(listener, 0):
            return score
        return typical(listener, item, condition)

    return rate


@pytest.mark.parametrize(("items", "excluded"), [(3, False), (4, True)])
def test_mid_anchor_rule_at_15_percent(tmp_path: Path, items: int, excluded: bool):
    # Only one listener of four rates the anchor high: 25 % of the assessors, not more, so no
    # item is excepted and the 15 % rule decides alone.
    result = screen(_ratings(tmp_path, _mid_high({"cyd": items})))
    assert result.excepted_trials == []
    assert _row(result, "cyd")["mid_anchor_above_90"] == items
    assert result.excluded == (["cyd"] if excluded else [])


def test_a_mid_anchor_at_90_is_not_higher_than_90(tmp_path: Path):
    result = screen(_ratings(tmp_path, _mid_high({"cyd": 10}, score=90)))
    assert result.excluded == [] and _row(result, "cyd")["mid_anchor_above_90"] == 0


def test_item_exception_when_more_than_25_percent_rate_the_mid_anchor_high(tmp_path: Path):
    # cyd rates the anchor above 90 on items 0-3 (20 %: would be excluded); dee does too on
    # items 0-1. There 2 of 4 assessors (50 % > 25 %) do: those items are not held against
    # anyone, leaving cyd 2 of 20 (kept) and dee 0.
    ratings = _ratings(tmp_path, _mid_high({"cyd": 4, "dee": 2}))
    assert excepted_trials(ratings) == ["t00", "t01"]
    result = screen(ratings)
    assert result.excepted_trials == ["t00", "t01"]
    assert _row(result, "cyd")["mid_anchor_above_90"] == 2
    assert _row(result, "dee")["mid_anchor_above_90"] == 0
    assert result.excluded == []
    assert any("t00, t01" in line for line in summary_lines(result, list(LISTENERS)))


def test_no_exception_at_exactly_25_percent(tmp_path: Path):
    # 1 of 4 assessors is 25 %, not more: the item is not excepted.
    ratings = _ratings(tmp_path, _mid_high({"cyd": 4}))
    assert excepted_trials(ratings) == []
    assert screen(ratings).excluded == ["cyd"]


def test_exception_leaves_the_hidden_reference_rule_alone(tmp_path: Path):
    def rate(listener: str, item: str, condition: str) -> float:
        if condition == "lp70" and _item(item) < 2:
            return 95  # every assessor: items 0-1 excepted from the mid-anchor rule
        if listener == "ann" and condition == "ref" and _item(item) < 4:
            return 50
        return typical(listener, item, condition)

    result = screen(_ratings(tmp_path, rate))
    assert result.excepted_trials == ["t00", "t01"]
    assert result.excluded == ["ann"]


def test_both_rules_give_both_reasons(tmp_path: Path):
    def rate(listener: str, item: str, condition: str) -> float:
        if listener == "bob" and _item(item) < 5 and condition in ("ref", "lp70"):
            return 70 if condition == "ref" else 99
        return typical(listener, item, condition)

    row = _row(screen(_ratings(tmp_path, rate)), "bob")
    assert row["reason"] == (
        "hidden reference below 90 on 5 of 20 items; mid anchor above 90 on 5 of 20 items"
    )


def test_screening_off_keeps_everyone_but_reports(tmp_path: Path):
    ratings = _ratings(tmp_path, _reference_low("bob", 10))
    result = screen(ratings, enabled=False)
    assert result.excluded == [] and len(kept(ratings, result)) == len(ratings)
    assert _row(result, "bob")["reason"].startswith("hidden reference below 90")
    lines = summary_lines(result, list(LISTENERS))
    assert lines[0].startswith("post-screening: OFF")
    assert "  would be excluded: bob: hidden reference below 90 on 10 of 20 items" in lines


def test_kept_drops_the_excluded_listener(tmp_path: Path):
    ratings = _ratings(tmp_path, _reference_low("bob", 10))
    result = screen(ratings)
    left = kept(ratings, result)
    assert set(left["listener"]) == {"ann", "cyd", "dee"}
    assert len(left) == 3 * 20 * len(CONDITIONS)


def test_without_a_mid_anchor_the_rule_is_not_applied_and_said_so(tmp_path: Path):
    conditions = {c: v for c, v in CONDITIONS.items() if c != "lp70"}
    result = screen(_ratings(tmp_path, typical, n_items=5, conditions=conditions))
    assert result.rules[1].startswith("mid-anchor rule NOT applied")
    assert result.excluded == []


@pytest.mark.parametrize(("low", "excluded"), [(3, False), (4, True)])
def test_with_blocks_each_presentation_is_a_test_item(tmp_path: Path, low: int, excluded: bool):
    # 10 items x 2 blocks, the hidden reference and mid anchor on both screens: 20 trials.
    blocks = [["ref", "lp70", "lp35", "opus16"], ["ref", "lp70", "lp35", "namc6"]]
    key = make_key(tmp_path, n_items=10, blocks=blocks)
    low_trials = {t["trial_id"] for t in key["trials"][:low]}
    by_trial = {(t["item_id"], t["block"]): t["trial_id"] for t in key["trials"]}

    paths = panel(tmp_path / "answers", key, LISTENERS, typical)
    loaded = load_key(tmp_path / "key.json")
    ratings = load_ratings(loaded, paths).table
    hit = (ratings["listener"] == "bob") & (ratings["kind"] == "reference")
    hit &= ratings["trial_id"].isin(low_trials)
    ratings.loc[hit, "rating"] = 70
    result = screen(ratings)
    assert len(by_trial) == 20 and _row(result, "bob")["n_items"] == 20
    assert result.excluded == (["bob"] if excluded else [])
