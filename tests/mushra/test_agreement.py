"""Correlation of MUSHRA means with objective metrics on constructed data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.mushra.agreement import agreement, pearson_ci, stimulus_scores
from bench.mushra.answers import load_key, load_ratings

from .analysis_data import make_key, panel

CONDS = {
    "ref": ("reference", None, None, "hidden reference"),
    "lp70": ("anchor_lp70", None, None, "anchor 7 kHz"),
    "c1": ("codec", "opus", 8.0, "opus 8"),
    "c2": ("codec", "opus", 16.0, "opus 16"),
    "c3": ("codec", "opus", 32.0, "opus 32"),
    "c4": ("codec", "mp3", 32.0, "mp3 32"),
    "c5": ("codec", "mp3", 64.0, "mp3 64"),
}
#: MUSHRA means of the codecs on the single item, and the metrics' values on them.
MUSHRA = {"ref": 100, "lp70": 40, "c1": 2, "c2": 4, "c3": 5, "c4": 4, "c5": 5}
LINEAR = {"ref": "inf", "lp70": 0.5, "c1": 1, "c2": 2, "c3": 3, "c4": 4, "c5": 5}


def _scores(tmp_path: Path, objective):
    key = make_key(tmp_path, n_items=1, conditions=CONDS, objective=objective)
    paths = panel(tmp_path / "answers", key, ["p1", "p2"], lambda _l, _i, c: MUSHRA[c])
    loaded = load_key(tmp_path / "key.json")
    return stimulus_scores(load_ratings(loaded, paths).table, loaded)


def _objective(_item: str, cid: str) -> dict[str, object]:
    return {"x": LINEAR[cid], "gappy": None if cid in ("c1", "c2") else LINEAR[cid]}


def test_pearson_and_spearman_by_hand(tmp_path: Path):
    table = agreement(_scores(tmp_path, _objective)).set_index("metric")
    x = table.loc["x"]
    # x = 1..5, y = 2 4 5 4 5: Sxy = 6, Sxx = 10, Syy = 6.0 -> r = 6 / sqrt(60)
    assert x["n"] == 5 and x["n_missing"] == 0 and x["n_items"] == 1
    assert x["pearson_r"] == pytest.approx(6 / math.sqrt(60))
    # Spearman: Pearson of the ranks (ties averaged): y ranks 1, 2.5, 4.5, 2.5, 4.5
    ranks = np.array([1, 2.5, 4.5, 2.5, 4.5])
    assert x["spearman_rho"] == pytest.approx(np.corrcoef(np.arange(1, 6), ranks)[0, 1])
    assert 0 < x["pearson_p"] < 1 and 0 < x["spearman_p"] < 1
    low, high = pearson_ci(6 / math.sqrt(60), 5)
    assert (x["pearson_ci_low"], x["pearson_ci_high"]) == pytest.approx((low, high))


def test_missing_objectives_are_left_out_and_counted(tmp_path: Path):
    table = agreement(_scores(tmp_path, _objective)).set_index("metric")
    gappy = table.loc["gappy"]
    assert gappy["n"] == 3 and gappy["n_missing"] == 2
    # the three left: x 3 4 5, y 5 4 5 -> r = 0
    assert gappy["pearson_r"] == pytest.approx(0.0, abs=1e-12)


def test_reference_and_anchors_only_with_all(tmp_path: Path):
    scores = _scores(tmp_path, _objective)
    codecs = agreement(scores, "codecs").set_index("metric").loc["x"]
    every = agreement(scores, "all").set_index("metric").loc["x"]
    # "all" adds the anchor (0.5, 40) and the reference, whose "inf" is not finite: counted.
    assert codecs["n"] == 5 and every["n"] == 6 and every["n_missing"] == 1
    assert every["conditions"] == "all"
    assert every["pearson_r"] != pytest.approx(codecs["pearson_r"])
    with pytest.raises(ValueError):
        agreement(scores, "codec")


def test_too_few_or_constant_is_a_note_not_a_number(tmp_path: Path):
    def objective(_item: str, cid: str) -> dict[str, object]:
        return {"flat": 3.0, "two": 1.0 if cid in ("c1", "c2") else None}

    table = agreement(_scores(tmp_path, objective)).set_index("metric")
    assert math.isnan(table.loc["flat", "pearson_r"])
    assert table.loc["flat", "note"] == "constant values: correlation undefined"
    assert table.loc["two", "note"] == "fewer than 3 stimuli with a value"


def test_fisher_ci_by_hand():
    # r = 0.5, n = 28: z = atanh(0.5) = 0.549306, se = 1/5, 1.959964 * 0.2 = 0.391993
    low, high = pearson_ci(0.5, 28)
    assert low == pytest.approx(math.tanh(0.549306144 - 0.391992799), rel=1e-6)
    assert high == pytest.approx(math.tanh(0.549306144 + 0.391992799), rel=1e-6)
    assert all(math.isnan(v) for v in pearson_ci(0.5, 3))
