"""The results store: what is kept, what is retried, and that it survives reopening."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from bench.store import ResultStore, stable_hash


def ok_fields(kbps: float) -> dict:
    return {"status": "ok", "actual_kbps": kbps, "bytes": 100, "params": {"native_rate": 48000}}


def test_points_and_scores_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    with ResultStore(path) as store:
        assert store.put(
            "p1", ok_fields(12.5), {"m1": (3.5, "", "", 0.1), "m2": (math.nan, "silent", "", None)}
        )
    with ResultStore(path) as store:  # reopened: nothing lost
        found = store.get_points(["p1", "p2"], {"p1": ["m1", "m2", "m3"]})
    assert set(found) == {"p1"}
    point = found["p1"]
    assert point.fields["actual_kbps"] == 12.5 and point.fields["params"] == {"native_rate": 48000}
    assert point.scores["m1"][0] == 3.5
    assert math.isnan(point.scores["m2"][0]) and point.scores["m2"][1] == "silent"
    assert "m3" not in point.scores


def test_transient_failures_are_not_stored(tmp_path: Path) -> None:
    with ResultStore(tmp_path / "c.sqlite") as store:
        for kind in ("timeout", "crash", "internal"):
            assert not store.put(kind, {"status": "error", "error": "x", "error_kind": kind}, {})
        assert store.put(
            "bad", {"status": "error", "error": "unreadable", "error_kind": "input"}, {}
        )
        assert store.count() == (1, 0)


def test_schema_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    ResultStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='999' WHERE name='schema'")
    with pytest.raises(RuntimeError, match="schema 999"):
        ResultStore(path)


def test_stable_hash_ignores_dict_order() -> None:
    assert stable_hash({"a": 1, "b": 2}) == stable_hash({"b": 2, "a": 1})
    assert stable_hash("x", 1.0) != stable_hash("x", 1.5)
