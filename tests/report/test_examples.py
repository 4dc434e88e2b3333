"""Listening examples: deterministic choice of clips and points, safe file names."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from bench.report.examples import (
    EXAMPLES_DIR,
    LOWEST,
    MATCHED,
    example_path,
    select_examples,
)

from .builders import CODECS, EVIL_CLIP, EVIL_CODEC


def test_example_paths_are_safe_unique_and_stable(tmp_path: Path):
    nasty = ["../../etc/passwd", EVIL_CLIP, "a/b\\c", "é ü", "x" * 500, ""]
    paths = set()
    for clip in nasty:
        for codec, kbps in ((None, None), ("opus", 6.0), ("opus", 6.5), (EVIL_CODEC, 8.0)):
            path = example_path(tmp_path, "esc50", clip, codec, kbps)
            assert path == example_path(tmp_path, "esc50", clip, codec, kbps)
            relative = path.relative_to(tmp_path / EXAMPLES_DIR)
            assert len(relative.parts) == 2
            assert all(re.fullmatch(r"[a-z0-9._-]+", part) for part in relative.parts)
            assert ".." not in relative.parts[1].split(".")[0]
            paths.add(path)
    assert len(paths) == len(nasty) * 4
    assert example_path(tmp_path, "d", "c", None, None).name == "original.wav"
    assert example_path(tmp_path, "d", "c", "opus", 6.0).name.startswith("opus_6k_")
    assert example_path(tmp_path, "d", "c", "flac", math.nan).name.startswith("flac_losslessk_")
    # Same clip id in another dataset is another clip.
    assert example_path(tmp_path, "a", "c", None, None) != example_path(
        tmp_path, "b", "c", None, None
    )
    with pytest.raises(ValueError):
        example_path(tmp_path, "d", "c", None, None, suffix="/../x")


def test_selection_lowest_and_matched_points(results: pd.DataFrame):
    requests = select_examples(results, per_dataset=2)
    assert [r.dataset for r in requests] == ["esc50", "esc50", "librispeech", "librispeech"]
    assert requests == select_examples(results.sample(frac=1.0, random_state=1), per_dataset=2)
    for request in requests:
        by_codec = {p.codec: p for p in request.points}
        assert "flac" not in by_codec  # lossless: nothing to hear
        assert request.points[0].codec == "namc"  # the codec under test comes first
        for codec, (_neural, ladder, _eff, _over) in CODECS.items():
            point = by_codec[codec]
            # Every codec's lowest target is below namc's lowest measured rate (~3 kbps) or its
            # own floor, so the matched point is the lowest one too.
            assert point.target_kbps == min(ladder)
            assert LOWEST in point.roles
            if codec != "namc":
                assert MATCHED in point.roles and point.matched_to == ("namc",)


def test_matched_point_is_closest_in_log_rate():
    rows = []
    for codec, neural, targets in (("namc", True, [6.0, 12.0]), ("opus", False, [4.0, 8.0, 24.0])):
        for target in targets:
            rows.append(
                {
                    "dataset": "d",
                    "clip_id": "c",
                    "codec": codec,
                    "neural": neural,
                    "target_kbps": target,
                    "actual_kbps": target,
                    "status": "ok",
                }
            )
    # log distance from 6: 4 -> 0.405, 8 -> 0.288: 8 kbps is the matched point.
    (request,) = select_examples(pd.DataFrame(rows), per_dataset=3)
    points = {(p.codec, p.target_kbps): p.roles for p in request.points}
    assert points == {("namc", 6.0): (LOWEST,), ("opus", 4.0): (LOWEST,), ("opus", 8.0): (MATCHED,)}


def test_only_points_that_worked_on_the_clip_are_requested(results: pd.DataFrame):
    # Fail the lowest opus point on every librispeech clip but one.
    ls = results["dataset"] == "librispeech"
    keep = "librispeech-clip-2"  # (clip-1 has a failed mp3 point in the fixture)
    broken = ls & (results["codec"] == "opus") & (results["target_kbps"] == 6.0)
    broken &= results["clip_id"] != keep
    results.loc[broken, "status"] = "error"
    requests = [r for r in select_examples(results, per_dataset=2) if r.dataset == "librispeech"]
    # The clip with every point wins; the next has opus missing rather than a failed point.
    assert requests[0].clip_id == keep
    assert len(requests[0].points) == len(CODECS)
    assert "opus" not in {p.codec for p in requests[1].points}


def test_without_a_neural_codec_only_lowest_points(results: pd.DataFrame):
    results["neural"] = False
    for request in select_examples(results, per_dataset=1):
        assert all(p.roles == (LOWEST,) for p in request.points)
    assert select_examples(results, per_dataset=0) == []
