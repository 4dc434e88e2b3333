"""Choosing conditions, items and blocks from a results table (constructed, known answers)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bench.errors import BenchError
from bench.mushra.select import (
    MAX_CODECS_PER_TRIAL,
    CodecCondition,
    choose_conditions,
    minimum_items,
    parse_conditions,
    select_items,
    split_blocks,
)

#: codec -> (neural, {target: measured kbps})
LADDERS = {
    "namc": (True, {2.4: 2.2, 5.6: 5.3}),
    "opus": (False, {6.0: 6.3, 8.0: 8.2, 16.0: 15.8}),
    "mp3": (False, {8.0: 8.3, 16.0: 16.1, 32.0: 32.4}),
    "g722": (False, {64.0: 64.0}),
}


def _results(clips: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for dataset, prefix in (("esc50", "e"), ("librispeech", "l")):
        for i in range(clips):
            clip = f"{prefix}{i:02d}"
            hardness = i / clips  # higher index: lower scores for every codec
            for codec, (neural, ladder) in LADDERS.items():
                for target, kbps in ladder.items():
                    measured = kbps * (1 + 0.001 * rng.standard_normal())
                    rows.append({
                        "dataset": dataset, "clip_id": clip, "codec": codec, "neural": neural,
                        "target_kbps": target, "actual_kbps": measured,
                        "status": "ok", "snr": 3 * math.log2(kbps) - 10 * hardness,
                    })  # fmt: skip
        rows.append({"dataset": dataset, "clip_id": f"{prefix}00", "codec": "flac",
                     "neural": False, "target_kbps": math.nan, "actual_kbps": 700.0,
                     "status": "ok", "snr": math.inf})  # fmt: skip
    return pd.DataFrame(rows)


def test_minimum_items_follows_bs1534():
    assert [minimum_items(n) for n in (1, 2, 3, 4, 5, 8)] == [5, 5, 5, 6, 8, 12]


def test_parse_conditions():
    assert parse_conditions("opus:16, mp3:32,opus:16") == [("opus", 16.0), ("mp3", 32.0)]
    for bad in ("opus", "opus:x", ":16", "opus:-1", ""):
        with pytest.raises(BenchError):
            parse_conditions(bad)


def test_named_conditions_carry_their_measured_rate():
    conditions, notes = choose_conditions(_results(), [("opus", 16.0), ("mp3", 32.0)])
    assert [(c.codec, c.target_kbps) for c in conditions] == [("opus", 16.0), ("mp3", 32.0)]
    assert conditions[0].actual_kbps == pytest.approx(15.8, rel=1e-2) and notes == []
    with pytest.raises(BenchError, match="no ok point at 12 kbps"):
        choose_conditions(_results(), [("opus", 12.0)])
    with pytest.raises(BenchError, match="no ok lossy point"):
        choose_conditions(_results(), [("nope", 12.0)])


def test_matching_picks_the_nearest_measured_rate_and_drops_far_codecs():
    conditions, notes = choose_conditions(_results(), match="namc:5.6")
    assert [(c.codec, c.target_kbps) for c in conditions] == [
        ("namc", 5.6), ("mp3", 8.0), ("opus", 6.0)
    ]  # fmt: skip
    assert len(notes) == 1 and notes[0].startswith("g722")  # 64 kbps is > 2x from 5.3
    # Default: the first neural codec at its lowest point; 2.2 kbps leaves only opus 6 (2.9x)
    # out with ratio 2, in with ratio 3.
    default, _ = choose_conditions(_results())
    assert [(c.codec, c.target_kbps) for c in default] == [("namc", 2.4)]
    wide, _ = choose_conditions(_results(), codecs=["opus"], max_rate_ratio=3.0)
    assert [(c.codec, c.target_kbps) for c in wide] == [("namc", 2.4), ("opus", 6.0)]


def test_blocks_hold_at_most_eight_codecs_and_split_evenly():
    conditions = [CodecCondition(f"c{i}", 8.0, 8.0) for i in range(11)]
    blocks = split_blocks(conditions)
    assert MAX_CODECS_PER_TRIAL == 8 and [len(b) for b in blocks] == [6, 5]
    assert [c for b in blocks for c in b] == conditions
    assert [len(b) for b in split_blocks(conditions[:8])] == [8]
    assert [len(b) for b in split_blocks(conditions[:3], per_trial=1)] == [1, 1, 1]


def test_items_are_the_hardest_diverse_clips_and_deterministic():
    results = _results()
    conditions, _ = choose_conditions(results, [("opus", 16.0), ("mp3", 16.0)])
    groups = {(d, c): c[:2] for d in ("esc50", "librispeech") for c in results["clip_id"]}
    items = select_items(results, conditions, 6, seed=3, groups=groups, metrics=["snr"])
    assert len(items) == 6 == len({(i.dataset, i.clip_id) for i in items})
    # Datasets alternate; within each, the hardest clips (highest index) first, one per group
    # ("e1" covers e10, e11; "e0" covers e00-e09) before any repeat.
    assert [i.dataset for i in items] == ["esc50", "librispeech"] * 3
    assert [i.clip_id for i in items if i.dataset == "esc50"] == ["e11", "e09", "e10"]
    assert all("snr" in i.why for i in items)
    again = select_items(results, conditions, 6, seed=3, groups=groups, metrics=["snr"])
    assert again == items


def test_seed_breaks_ties_only():
    results = _results()
    results["snr"] = 1.0  # every clip equally hard: the seed decides
    conditions, _ = choose_conditions(results, [("opus", 16.0)])
    picks = {
        tuple(i.clip_id for i in select_items(results, conditions, 5, seed=s)) for s in range(6)
    }
    assert len(picks) > 1
    assert select_items(results, conditions, 5, seed=2) == select_items(
        results, conditions, 5, seed=2
    )


def test_only_clips_ok_for_every_condition_and_available_qualify():
    results = _results(clips=4)
    failed = (results["clip_id"] == "e03") & (results["codec"] == "mp3")
    results.loc[failed, "status"] = "error"
    conditions, _ = choose_conditions(results, [("opus", 16.0), ("mp3", 16.0)])
    items = select_items(results, conditions, 5, seed=0, available=[
        ("esc50", "e00"), ("esc50", "e01"), ("esc50", "e02"), ("esc50", "e03"),
        ("librispeech", "l00"), ("librispeech", "l01"),
    ])  # fmt: skip
    assert ("esc50", "e03") not in {(i.dataset, i.clip_id) for i in items}
    with pytest.raises(BenchError, match="only 5 clip"):
        select_items(
            results, conditions, 6, seed=0, available=[(i.dataset, i.clip_id) for i in items]
        )
