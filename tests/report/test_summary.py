"""summary.csv: counts, means, t-based 95 % confidence intervals, NaN reasons, column order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.report.info import MetricInfo
from bench.report.summary import ci95_halfwidth, summarize, summary_columns

# t(0.975, dof) from tables, written out so the test does not reuse the code's scipy call.
T975_3DOF = 3.182446305284263
T975_2DOF = 4.302652729749464


def test_ci_is_the_student_t_half_width():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    expected = T975_3DOF * np.std(values, ddof=1) / 2.0
    assert ci95_halfwidth(values) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(ci95_halfwidth(np.array([5.0])))
    assert math.isnan(ci95_halfwidth(np.array([])))
    assert math.isnan(ci95_halfwidth(np.array([1.0, math.inf])))
    assert ci95_halfwidth(np.array([2.0, 2.0, 2.0])) == 0.0


def _rows(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "dataset": "ls",
        "clip_id": "c",
        "codec": "opus",
        "neural": False,
        "target_kbps": 6.0,
        "actual_kbps": 6.0,
        "status": "ok",
        "error": "",
        "encode_s": 0.1,
        "decode_s": 0.05,
        "snr": 10.0,
        "snr_reason": "",
        "pesq_wb": 3.0,
        "pesq_wb_reason": "",
    }
    row.update(overrides)
    return row


METRICS = {
    "pesq_wb": MetricInfo("pesq_wb", True, "", "speech"),
    "snr": MetricInfo("snr", True, "dB"),
    "visqol_audio": MetricInfo("visqol_audio", True, "", "audio"),  # not a column: left out
}


def test_counts_means_and_reasons():
    nan = math.nan
    rows = [
        _rows(clip_id="a", actual_kbps=5.0, snr=10.0, pesq_wb=2.0),
        _rows(clip_id="b", actual_kbps=7.0, snr=14.0, pesq_wb=nan, pesq_wb_reason="silent"),
        _rows(clip_id="c", actual_kbps=9.0, snr=12.0, pesq_wb=nan, pesq_wb_reason="too_short"),
        _rows(clip_id="d", actual_kbps=6.5, snr=nan, pesq_wb=nan, snr_reason="", pesq_wb_reason=""),
        # A failed row: counted as failed, its (bogus) rate and scores never averaged.
        _rows(clip_id="e", status="error", error="boom", actual_kbps=99.0, snr=nan, pesq_wb=nan),
        _rows(codec="flac", target_kbps=nan, actual_kbps=700.0, snr=math.inf, pesq_wb=4.6),
        _rows(codec="namc", neural=True, target_kbps=3.0, actual_kbps=3.1, snr=8.0),
    ]
    summary = summarize(pd.DataFrame(rows), METRICS)
    assert list(summary.columns) == summary_columns(["pesq_wb", "snr"])
    assert summary["codec"].tolist() == ["flac", "namc", "opus"]
    assert summary["target_kbps"].tolist()[1:] == [3.0, 6.0]
    assert math.isnan(summary["target_kbps"].iloc[0])
    opus = summary.set_index("codec").loc["opus"]
    assert (opus["n_clips"], opus["n_ok"], opus["n_failed"]) == (5, 4, 1)
    assert opus["actual_kbps_mean"] == pytest.approx((5 + 7 + 9 + 6.5) / 4)
    assert (opus["actual_kbps_min"], opus["actual_kbps_max"]) == (5.0, 9.0)
    assert opus["snr_mean"] == pytest.approx(12.0)
    assert opus["snr_ci95"] == pytest.approx(T975_2DOF * 2.0 / math.sqrt(3))
    assert (opus["snr_n"], opus["snr_n_nan"], opus["snr_nan_reason"]) == (3, 1, "unknown")
    # pesq_wb: one value, three NaN reasons (one each: ties broken alphabetically).
    assert (opus["pesq_wb_n"], opus["pesq_wb_n_nan"]) == (1, 3)
    assert opus["pesq_wb_nan_reason"] == "silent"
    assert math.isnan(opus["pesq_wb_ci95"])
    for name in ("snr", "pesq_wb"):
        assert opus[f"{name}_n"] + opus[f"{name}_n_nan"] == opus["n_ok"]
    assert bool(summary.set_index("codec").loc["namc", "neural"])
    flac = summary.set_index("codec").loc["flac"]
    assert flac["snr_mean"] == math.inf and math.isnan(flac["snr_ci95"])


def test_most_common_reason_wins_and_summary_is_deterministic():
    nan = math.nan
    rows = [_rows(clip_id=str(i), pesq_wb=nan, pesq_wb_reason="no_utterance") for i in range(3)]
    rows += [_rows(clip_id="x", pesq_wb=nan, pesq_wb_reason="silent")]
    rows += [_rows(dataset="esc", clip_id="y")]
    table = pd.DataFrame(rows)
    first = summarize(table, METRICS)
    again = summarize(table.sample(frac=1.0, random_state=3), METRICS)
    pd.testing.assert_frame_equal(first, again)
    assert first["dataset"].tolist() == ["esc", "ls"]
    assert first.set_index("dataset").loc["ls", "pesq_wb_nan_reason"] == "no_utterance"


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="actual_kbps"):
        summarize(pd.DataFrame([_rows()]).drop(columns="actual_kbps"), METRICS)
