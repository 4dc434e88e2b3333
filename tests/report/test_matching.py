"""Matched-rate interpolation, required rate and BD-rate on constructed curves with known
answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.report.info import MetricInfo
from bench.report.matching import (
    ABOVE_RANGE,
    BELOW_RANGE,
    NO_CURVE,
    NO_OVERLAP,
    NOT_REACHED,
    OK,
    TOO_FEW_POINTS,
    bd_rate,
    bd_rate_table,
    frontier,
    interpolate_quality,
    matched_quality_table,
    matched_rate_table,
    paired_differences,
    rd_points,
    required_kbps,
)

RATES = [8.0, 16.0, 32.0, 64.0]
QUALITY = [20.0, 26.0, 30.0, 32.0]

# -- interpolation -----------------------------------------------------------------------------


def test_interpolation_is_linear_in_log_rate():
    # 16 kbps is the log-midpoint of 8 and 32: the mean of their qualities, not the linear-rate
    # answer (which would be 10 + 10 * 8/24 = 13.33).
    got = interpolate_quality([8.0, 32.0], [10.0, 20.0], 16.0)
    assert got.status == OK
    assert got.value == pytest.approx(15.0, abs=1e-12)
    # A quarter of the way in log-rate from 8 to 32 is 8 * 4 ** 0.25.
    got = interpolate_quality([8.0, 32.0], [10.0, 20.0], 8.0 * 4**0.25)
    assert got.value == pytest.approx(12.5, abs=1e-12)


def test_interpolation_hits_measured_points_and_range_ends():
    for rate, quality in zip(RATES, QUALITY, strict=True):
        got = interpolate_quality(RATES, QUALITY, rate)
        assert got.ok and got.value == pytest.approx(quality, abs=1e-12)
    # Unsorted input is sorted by rate first.
    got = interpolate_quality(RATES[::-1], QUALITY[::-1], math.sqrt(16 * 32))
    assert got.value == pytest.approx(28.0, abs=1e-12)


def test_outside_the_measured_range_is_reported_not_extrapolated():
    below = interpolate_quality(RATES, QUALITY, 6.0)
    above = interpolate_quality(RATES, QUALITY, 64.5)
    assert (below.status, below.bound) == (BELOW_RANGE, 8.0) and math.isnan(below.value)
    assert (above.status, above.bound) == (ABOVE_RANGE, 64.0) and math.isnan(above.value)
    assert not below.ok and not above.ok


def test_too_few_points_and_unusable_points():
    assert interpolate_quality([8.0], [20.0], 8.0).status == NO_CURVE
    # NaN and non-positive rates are dropped; what remains is one point.
    got = interpolate_quality([8.0, math.nan, 0.0, 16.0], [20.0, 25.0, 1.0, math.nan], 8.0)
    assert got.status == NO_CURVE
    with pytest.raises(ValueError, match="positive"):
        interpolate_quality(RATES, QUALITY, 0.0)
    with pytest.raises(ValueError, match="length"):
        interpolate_quality(RATES, QUALITY[:2], 10.0)


def test_equal_measured_rates_are_merged():
    # A codec that clamps two targets to the same rate: one point, quality averaged.
    got = interpolate_quality([8.0, 8.0, 32.0], [10.0, 12.0, 21.0], 16.0)
    assert got.value == pytest.approx((11.0 + 21.0) / 2, abs=1e-12)


def test_non_monotone_curve_is_interpolated_as_measured():
    rates, quality = [8.0, 16.0, 32.0, 64.0], [20.0, 25.0, 24.0, 30.0]
    got = interpolate_quality(rates, quality, math.sqrt(16 * 32))
    assert got.value == pytest.approx(24.5, abs=1e-12)


# -- required rate -------------------------------------------------------------------------------


def test_required_rate_inverts_the_interpolation():
    got = required_kbps([8.0, 32.0], [10.0, 20.0], 15.0)
    assert got.status == OK and got.value == pytest.approx(16.0, rel=1e-12)
    got = required_kbps(RATES, QUALITY, 26.0)
    assert got.value == pytest.approx(16.0, rel=1e-12)
    # Equal to the lowest point's quality: reached exactly at the lowest rate.
    got = required_kbps(RATES, QUALITY, 20.0)
    assert got.status == OK and got.value == pytest.approx(8.0, rel=1e-12)


def test_required_rate_out_of_range():
    below = required_kbps(RATES, QUALITY, 19.0)
    never = required_kbps(RATES, QUALITY, 33.0)
    assert (below.status, below.bound) == (BELOW_RANGE, 8.0)
    assert (never.status, never.bound) == (NOT_REACHED, 64.0)
    assert required_kbps([8.0], [20.0], 20.0).status == NO_CURVE


def test_required_rate_takes_the_first_crossing_of_a_non_monotone_curve():
    # 25 is reached between 8 and 16 kbps, and again between 32 and 64: the cheaper one counts.
    rates, quality = [8.0, 16.0, 32.0, 64.0], [20.0, 30.0, 22.0, 31.0]
    got = required_kbps(rates, quality, 25.0)
    assert got.value == pytest.approx(8.0 * 2**0.5, rel=1e-12)
    # A dip does not make a target look unreachable or re-crossed.
    got = required_kbps(rates, quality, 30.5)
    expected = math.exp(math.log(32) + (30.5 - 22) / (31 - 22) * math.log(2))
    assert got.value == pytest.approx(expected, rel=1e-12)


def test_required_rate_lower_is_better():
    rates, lsd = [8.0, 32.0], [4.0, 2.0]
    got = required_kbps(rates, lsd, 3.0, higher_is_better=False)
    assert got.status == OK and got.value == pytest.approx(16.0, rel=1e-12)
    assert required_kbps(rates, lsd, 4.5, higher_is_better=False).status == BELOW_RANGE
    assert required_kbps(rates, lsd, 1.0, higher_is_better=False).status == NOT_REACHED
    # Read as higher-is-better, the same numbers would say the opposite.
    assert required_kbps(rates, lsd, 4.5, higher_is_better=True).status == NOT_REACHED


@settings(max_examples=60, deadline=None)
@given(
    slope=st.floats(0.5, 10.0),
    offset=st.floats(-20.0, 20.0),
    fraction=st.floats(0.0, 1.0),
)
def test_required_rate_roundtrips_interpolation(slope: float, offset: float, fraction: float):
    rates = np.array([6.0, 9.0, 17.0, 40.0, 70.0])
    # Rising curve (the wiggle is small against the slope), so the inverse is unique.
    quality = offset + slope * (np.log(rates) + np.array([0.0, 0.1, -0.05, 0.05, 0.0]))
    rate = math.exp(math.log(6.0) + fraction * (math.log(70.0) - math.log(6.0)))
    value = interpolate_quality(rates, quality, rate).value
    assert required_kbps(rates, quality, value).value == pytest.approx(rate, rel=1e-9)


# -- BD-rate ---------------------------------------------------------------------------------


def test_bd_rate_of_a_curve_shifted_by_factor_two_is_exactly_plus_100_percent():
    rates = np.array([6.0, 12.0, 24.0, 48.0, 96.0])
    quality = np.array([1.8, 2.7, 3.4, 3.9, 4.2])  # concave, like a real MOS curve
    b_vs_a = bd_rate(rates, quality, 2 * rates, quality)
    a_vs_b = bd_rate(2 * rates, quality, rates, quality)
    assert b_vs_a.value == pytest.approx(100.0, abs=1e-9)
    assert a_vs_b.value == pytest.approx(-50.0, abs=1e-9)
    assert b_vs_a.reason == "" and (b_vs_a.n_a, b_vs_a.n_b) == (5, 5)
    assert b_vs_a.overlap == (pytest.approx(1.8), pytest.approx(4.2))
    assert bd_rate(rates, quality, rates, quality).value == pytest.approx(0.0, abs=1e-12)


def test_bd_rate_on_differently_sampled_curves():
    # quality = 10 + 5 ln(r) for A and 10 + 5 ln(r / 3) for B: B needs 3x the bits everywhere.
    # log-rate is linear in quality, which PCHIP reproduces exactly whatever the sampling.
    rates_a = np.array([4.0, 8.0, 16.0, 32.0, 64.0])
    rates_b = np.array([10.0, 20.0, 45.0, 90.0, 200.0])
    got = bd_rate(rates_a, 10 + 5 * np.log(rates_a), rates_b, 10 + 5 * np.log(rates_b / 3))
    assert got.value == pytest.approx(200.0, abs=1e-9)
    low = max(10 + 5 * math.log(4), 10 + 5 * math.log(10 / 3))
    assert got.overlap == (pytest.approx(low), pytest.approx(10 + 5 * math.log(64)))


def test_bd_rate_for_a_lower_is_better_metric():
    rates = np.array([8.0, 16.0, 32.0, 64.0])
    lsd = 6.0 - np.log(rates)
    got = bd_rate(rates, lsd, 2 * rates, lsd, higher_is_better=False)
    assert got.value == pytest.approx(100.0, abs=1e-9)
    assert got.overlap[0] < got.overlap[1]
    # Read with the wrong orientation, every point but the first is dominated.
    wrong = bd_rate(rates, lsd, 2 * rates, lsd, higher_is_better=True)
    assert wrong.reason == TOO_FEW_POINTS and wrong.n_a == 1


def test_bd_rate_needs_four_points_and_an_overlap():
    rates = np.array([8.0, 16.0, 32.0, 64.0])
    quality = np.array([20.0, 25.0, 28.0, 30.0])
    got = bd_rate(rates[:3], quality[:3], rates, quality)
    assert math.isnan(got.value) and got.reason == TOO_FEW_POINTS and got.n_a == 3
    assert bd_rate(rates[:3], quality[:3], rates, quality, min_points=3).reason == ""
    disjoint = bd_rate(rates, quality, rates, quality + 20.0)
    assert math.isnan(disjoint.value) and disjoint.reason == NO_OVERLAP
    with pytest.raises(ValueError):
        bd_rate(rates, quality, rates, quality, min_points=1)


def test_non_monotone_curves_do_not_break_bd_rate():
    rates = np.array([8.0, 16.0, 24.0, 32.0, 48.0, 64.0])
    quality = np.array([20.0, 25.0, 24.0, 28.0, 28.0, 30.0])
    kept_rates, kept_quality = frontier(rates, quality)
    assert kept_rates.tolist() == [8.0, 16.0, 32.0, 64.0]
    assert kept_quality.tolist() == [20.0, 25.0, 28.0, 30.0]
    got = bd_rate(rates, quality, 2 * rates, quality)
    assert got.value == pytest.approx(100.0, abs=1e-9) and got.n_a == 4
    # Saturated, noisy curves: a result or a reason, never an exception.
    noisy = bd_rate(rates, [0.9, 0.95, 0.95, 0.96, 0.955, 0.96], rates, quality)
    assert noisy.reason in ("", TOO_FEW_POINTS, NO_OVERLAP)


# -- tables over a results table ---------------------------------------------------------------


def _table() -> tuple[pd.DataFrame, dict[str, MetricInfo]]:
    """A clean table with exact answers: quality = a + b log2(efficiency * measured kbps)."""
    metrics = {
        "snr": MetricInfo("snr", True, "dB", "both"),
        "lsd": MetricInfo("lsd", False, "dB", "both"),
        "pesq_wb": MetricInfo("pesq_wb", True, "", "speech"),
    }
    codecs = {
        "namc": (True, [3.0, 6.0, 12.0, 24.0], 2.0),
        "opus": (False, [6.0, 12.0, 24.0, 48.0], 1.0),
        "mp3": (False, [16.0, 32.0, 64.0, 128.0], 0.5),
        "flac": (False, [math.nan], 1.0),
    }
    rows = []
    for clip in ("a", "b"):
        for codec, (neural, ladder, efficiency) in codecs.items():
            for target in ladder:
                rate = 700.0 if math.isnan(target) else target * 1.01
                level = math.log2(efficiency * rate)
                rows.append(
                    {
                        "dataset": "esc50",
                        "clip_id": clip,
                        "domain": "audio",
                        "codec": codec,
                        "neural": neural,
                        "target_kbps": target,
                        "actual_kbps": rate,
                        "status": "ok",
                        "error": "",
                        "snr": 3.0 * level,
                        "lsd": 8.0 - level,
                        "pesq_wb": math.nan,
                        "pesq_wb_reason": "not_applicable",
                    }
                )
    # A failed row must not move any mean.
    rows.append(
        {
            **rows[0],
            "clip_id": "c",
            "status": "error",
            "error": "boom",
            "snr": math.nan,
            "lsd": math.nan,
            "actual_kbps": math.nan,
        }
    )
    return pd.DataFrame(rows), metrics


def test_rd_points_skip_failed_lossless_and_inapplicable():
    results, metrics = _table()
    points = rd_points(results, metrics)
    assert set(points["metric"]) == {"snr", "lsd"}  # pesq_wb does not apply to audio
    assert "flac" not in set(points["codec"])
    namc = points[(points["codec"] == "namc") & (points["metric"] == "snr")]
    assert namc["n"].tolist() == [2, 2, 2, 2]
    assert namc["kbps"].tolist() == pytest.approx([3.03, 6.06, 12.12, 24.24])


def test_matched_quality_table_known_answers():
    results, metrics = _table()
    table = matched_quality_table(results, metrics)
    assert set(table["codec"]) == {"opus", "mp3"}  # the neural codec itself and flac are not
    snr = table[table["metric"] == "snr"].set_index(["neural_target_kbps", "codec"])
    # At namc's 12.12 kbps, opus (half namc's efficiency) scores what namc scores at half rate.
    at12 = snr.loc[(12.0, "opus")]
    assert at12["status"] == OK
    assert at12["quality"] == pytest.approx(3.0 * math.log2(12.12), abs=1e-9)
    assert at12["delta"] == pytest.approx(-3.0, abs=1e-9) and not at12["better"]
    assert snr.loc[(3.0, "opus"), "status"] == BELOW_RANGE
    assert snr.loc[(3.0, "opus"), "bound_kbps"] == pytest.approx(6.06)
    assert pd.isna(snr.loc[(3.0, "opus"), "better"])
    lsd = table[table["metric"] == "lsd"].set_index(["neural_target_kbps", "codec"])
    assert lsd.loc[(12.0, "opus"), "delta"] == pytest.approx(1.0, abs=1e-9)
    assert not lsd.loc[(12.0, "opus"), "better"]  # higher lsd is worse


def test_matched_rate_table_known_answers():
    results, metrics = _table()
    table = matched_rate_table(results, metrics)
    for metric in ("snr", "lsd"):
        rows = table[(table["metric"] == metric) & (table["neural_target_kbps"] == 12.0)]
        rows = rows.set_index("codec")
        assert rows.loc["opus", "rate_ratio"] == pytest.approx(2.0, rel=1e-9)
        assert rows.loc["mp3", "rate_ratio"] == pytest.approx(4.0, rel=1e-9)
        # At namc's 3 kbps point even mp3's lowest rate (16 kbps) is better: below its range.
        low = table[(table["metric"] == metric) & (table["neural_target_kbps"] == 3.0)]
        low = low.set_index("codec").loc["mp3"]
        assert low["status"] == BELOW_RANGE and low["bound_kbps"] == pytest.approx(16.16)
    assert "namc" not in set(table["codec"]) and "flac" not in set(table["codec"])


def test_bd_rate_table_known_answers():
    results, metrics = _table()
    table = bd_rate_table(results, metrics).set_index(["metric", "anchor", "codec"])
    assert table.loc[("snr", "namc", "opus"), "bd_rate_pct"] == pytest.approx(100.0, abs=1e-9)
    assert table.loc[("snr", "opus", "namc"), "bd_rate_pct"] == pytest.approx(-50.0, abs=1e-9)
    assert table.loc[("lsd", "namc", "mp3"), "bd_rate_pct"] == pytest.approx(300.0, abs=1e-9)
    # namc (3.03-24.2 kbps, 2x efficient) and mp3 (16-129 kbps, 0.5x) overlap in quality only
    # between mp3's lowest and namc's highest point.
    assert table.loc[("snr", "mp3", "namc"), "overlap_low"] == pytest.approx(
        3 * math.log2(0.5 * 16.16)
    )
    assert not any(c == "flac" for _, _, c in table.index)
    assert len(table) == 2 * 3 * 2  # two metrics, ordered pairs of three lossy codecs


def test_paired_differences_resolve_consistent_gaps_only():
    results, metrics = _table()
    table = matched_quality_table(results, metrics)
    row = table[(table["metric"] == "snr") & (table["neural_target_kbps"] == 12.0)]
    row = row.set_index("codec").loc["opus"]
    # Both clips lose exactly 3 dB: no spread, so the gap is resolved.
    assert row["n_paired"] == 2
    assert row["delta_paired"] == pytest.approx(-3.0, abs=1e-9)
    assert row["delta_paired_ci95"] == pytest.approx(0.0, abs=1e-9)
    assert bool(row["resolved"])
    # Make the gap flip sign from clip to clip: the mean difference is noise, not a verdict.
    swing = (results["codec"] == "opus") & (results["clip_id"] == "a")
    results.loc[swing, "snr"] += 6.5
    results.loc[(results["codec"] == "opus") & (results["clip_id"] == "b"), "snr"] -= 0.5
    row = matched_quality_table(results, metrics)
    row = row[(row["metric"] == "snr") & (row["neural_target_kbps"] == 12.0)]
    row = row.set_index("codec").loc["opus"]
    assert row["delta_paired"] == pytest.approx(0.0, abs=1e-9)
    assert not bool(row["resolved"])


def test_paired_differences_skip_clips_outside_their_own_range():
    curves = {
        "a": (np.log([8.0, 32.0]), np.array([10.0, 20.0])),
        "b": (np.log([20.0, 40.0]), np.array([1.0, 2.0])),
    }
    neural = {"a": (16.0, 14.0), "b": (16.0, 5.0), "c": (16.0, 0.0)}
    deltas = paired_differences(neural, curves)
    assert deltas.tolist() == pytest.approx([1.0])  # b is out of range, c has no curve
