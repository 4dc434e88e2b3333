"""The report view's verdict at a neural point (what the "at a glance" cells say)."""

from __future__ import annotations

import math

from bench.report.info import MetricInfo
from bench.report.view import BETTER, TIE, WORSE, _verdict


def _row(codec: str, quality: float, better: bool, resolved: bool) -> dict:
    return {"codec": codec, "quality": quality, "better": better, "resolved": resolved}


def test_verdict_names_the_best_resolved_winner_and_orients_by_direction() -> None:
    rows = [_row("mp3", 3.0, True, True), _row("opus", 4.0, True, True)]
    assert _verdict(rows, MetricInfo("pesq")) == (WORSE, "beaten by opus (4.00)")
    lower = MetricInfo("lsd", higher_is_better=False)
    assert _verdict(rows, lower) == (WORSE, "beaten by mp3 (3.00)")
    beaten = [_row("mp3", 1.0, False, True), _row("aac", 2.0, False, True)]
    assert _verdict(beaten, MetricInfo("pesq")) == (BETTER, "best of 3; next aac (2.00)")


def test_a_nan_quality_ranks_last_as_in_pandas_sort() -> None:
    """A codec whose quality is NaN is never named as the best or the next one (pandas'
    sort_values put NaN last; a NaN sort key would leave Python's order undefined)."""
    info = MetricInfo("pesq")
    for rows in (
        [_row("zz", math.nan, False, True), _row("mp3", 2.0, False, True)],
        [_row("mp3", 2.0, False, True), _row("zz", math.nan, False, True)],
    ):
        assert _verdict(rows, info) == (BETTER, "best of 3; next mp3 (2.00)")
    unresolved = [_row("aa", math.nan, False, False), _row("mp3", 2.0, False, False)]
    assert _verdict(unresolved, info)[0] == TIE
    assert "against mp3" in _verdict(unresolved, info)[1]
