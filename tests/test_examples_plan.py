"""The prediction of the listening examples agrees with what the report picks from results."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.examples_plan import SPARE_CLIPS, clip_rank, digest, predict_clips, predict_points
from bench.report.examples import select_examples
from tests.report.builders import CODECS, make_results


def all_ok(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` as if every point had worked (the failed point's rate put back)."""
    failed = results["status"] != "ok"
    results = results.copy()
    results.loc[failed, "actual_kbps"] = results.loc[failed, "target_kbps"] * 0.98
    results.loc[failed, "status"] = "ok"
    results.loc[failed, "error"] = ""
    return results


def ladders_of(results: pd.DataFrame) -> dict[str, list[float | None]]:
    return {
        str(codec): [None if math.isnan(t) else float(t) for t in sorted(set(rows["target_kbps"]))]
        for codec, rows in results.groupby("codec")
    }


def pairs(results: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(results["dataset"], results["clip_id"], strict=True))


@pytest.mark.parametrize("per_dataset", [1, 2, 3])
@pytest.mark.parametrize("neural", [True, False])
def test_every_point_ok_the_prediction_holds_what_the_report_picks(
    per_dataset: int, neural: bool
) -> None:
    results = all_ok(make_results(clips_per_dataset=7, seed=per_dataset))
    if not neural:
        results = results[results["codec"] != "namc"]
    requests = select_examples(results, per_dataset=per_dataset)
    chosen = {(r.dataset, r.clip_id) for r in requests}
    # Without the spare, exactly the report's clips; the spare is the next in the same order.
    assert predict_clips(pairs(results), per_dataset, spare=0) == chosen
    with_spare = predict_clips(pairs(results), per_dataset)
    assert chosen < with_spare and len(with_spare) == len(chosen) + 2 * SPARE_CLIPS
    points = predict_points(ladders_of(results), {"namc"} if neural else set())
    picked = {(p.codec, p.target_kbps) for r in requests for p in r.points}
    assert picked and picked <= points
    lowest = {(codec, min(ladder)) for codec, (_n, ladder, _e, _o) in CODECS.items()}
    if neural:  # matched points depend on measured rates: every lossy point may be one
        assert len(points) == sum(len(ladder) for _n, ladder, _e, _o in CODECS.values())
    else:
        assert points == {p for p in lowest if p[0] != "namc"}
    assert not any(codec == "flac" for codec, _ in points)  # lossless: nothing to hear


def test_a_failed_point_moves_the_report_to_the_spare_clip() -> None:
    results = all_ok(make_results(clips_per_dataset=7))
    dataset = "esc50"
    ids = sorted(set(results.loc[results["dataset"] == dataset, "clip_id"]))
    first, second, spare = sorted(ids, key=lambda c: clip_rank(dataset, c))[:3]
    failing = (results["dataset"] == dataset) & (results["clip_id"] == first)
    failing &= (results["codec"] == "opus") & (results["target_kbps"] == 6.0)
    results.loc[failing, "status"] = "error"
    chosen = {r.clip_id for r in select_examples(results, per_dataset=2) if r.dataset == dataset}
    assert chosen == {second, spare}  # the first clip lost a point: ranked after the others
    assert {(dataset, c) for c in chosen} <= predict_clips(pairs(results), per_dataset=2)
    assert (dataset, spare) not in predict_clips(pairs(results), per_dataset=2, spare=0)


def test_ranking_is_the_report_hash() -> None:
    assert clip_rank("esc50", "a") == digest("esc50", "a") != clip_rank("esc5", "0a")
    assert predict_clips([("d", "c")], per_dataset=0) == set()
    assert predict_points({"flac": [None]}, {"namc"}) == set()
