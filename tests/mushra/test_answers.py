"""Reading answers (CSV and JSON) against key.json, and every refusal with its message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.mushra.answers import AnswersError, find_key, load_key, load_ratings

from .analysis_data import answer_rows, make_key, panel, typical, write_csv, write_json


@pytest.fixture
def key(tmp_path: Path) -> dict:
    return make_key(tmp_path, n_items=3)


def _load(tmp_path: Path, paths, **kw):
    return load_ratings(load_key(tmp_path / "key.json"), paths, **kw)


def test_csv_and_json_read_the_same(tmp_path: Path, key: dict):
    csv_paths = panel(tmp_path / "csv", key, ["ann", "bob"])
    json_paths = panel(tmp_path / "json", key, ["ann", "bob"], fmt="json")
    a, b = _load(tmp_path, csv_paths).table, _load(tmp_path, json_paths).table
    assert len(a) == 2 * 3 * 6
    assert a.drop(columns="file").equals(b.drop(columns="file"))
    row = a[(a["listener"] == "ann") & (a["condition_id"] == "opus16")].iloc[0]
    assert row["kind"] == "codec" and row["rating"] == typical("ann", row["item_id"], "opus16")


def _one(tmp_path: Path, key: dict, edit, name: str = "x.csv") -> Path:
    rows = answer_rows(key, "ann", typical)
    rows = edit(rows) or rows
    return (write_csv if name.endswith(".csv") else write_json)(tmp_path / name, rows)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r[0].update(stimulus_id="nope"), "unknown stimulus 'nope'"),
        (lambda r: r[0].update(trial_id="t99"), "unknown trial 't99'"),
        (lambda r: r[0].update(rating=101), "rating 101 is outside 0..100"),
        (lambda r: r[0].update(rating=-1), "rating -1 is outside 0..100"),
        (lambda r: r[0].update(rating="nan"), "rating nan is outside 0..100"),
        (lambda r: r[0].update(rating="good"), "rating 'good' is not a number"),
        (lambda r: r[0].update(item_id="item02"), "does not match trial 't00'"),
        (lambda r: r.pop(0) and None, "trial 't00' is incomplete: 5 of 6 stimuli rated"),
        (lambda r: r.append(dict(r[0])), "rated twice"),
        (lambda r: r[7].update(listener="eve"), "expected one listener name"),
        (lambda r: r[7].update(session_id="other"), "rows of 2 sessions in one file"),
    ],
)
def test_refusals(tmp_path: Path, key: dict, edit, message: str):
    path = _one(tmp_path, key, edit)
    with pytest.raises(AnswersError, match=re.escape(message)):
        _load(tmp_path, [path])


def test_stimulus_on_the_wrong_trial(tmp_path: Path, key: dict):
    other = next(iter(key["trials"][1]["stimuli"]))
    path = _one(tmp_path, key, lambda r: r[0].update(stimulus_id=other))
    with pytest.raises(AnswersError, match="is not on trial 't00'"):
        _load(tmp_path, [path])


def test_rating_error_names_file_and_row(tmp_path: Path, key: dict):
    path = _one(tmp_path, key, lambda r: r[3].update(rating=150))
    with pytest.raises(AnswersError) as info:
        _load(tmp_path, [path])
    assert f"answers file {path} row 4" in str(info.value)


def test_duplicate_listener_is_refused_unless_allowed(tmp_path: Path, key: dict):
    first = write_csv(tmp_path / "a.csv", answer_rows(key, "ann", typical, session="s1"))
    second = write_csv(
        tmp_path / "b.csv", answer_rows(key, "ann", lambda *a: typical(*a) - 10, session="s2")
    )
    with pytest.raises(AnswersError, match="listener 'ann' appears in 2 sessions"):
        _load(tmp_path, [first, second])
    ratings = _load(tmp_path, [first, second], allow_repeat=True)
    table = ratings.table
    assert len(table) == 3 * 6 and table["listener"].unique().tolist() == ["ann"]
    row = table[table["condition_id"] == "opus16"].iloc[0]
    assert row["rating"] == typical("ann", row["item_id"], "opus16") - 5  # mean of both
    assert any("2 sessions, ratings averaged" in n for n in ratings.notes)


def test_same_session_as_csv_and_json_is_read_once(tmp_path: Path, key: dict):
    rows = answer_rows(key, "ann", typical)
    paths = [write_csv(tmp_path / "a.csv", rows), write_json(tmp_path / "a.json", rows)]
    ratings = _load(tmp_path, paths)
    assert len(ratings.table) == 3 * 6
    assert any("read once" in n for n in ratings.notes)
    changed = [dict(r) for r in rows]
    changed[0]["rating"] = 3
    paths[1] = write_json(tmp_path / "a.json", changed)
    with pytest.raises(AnswersError, match=r"same session .* with different ratings"):
        _load(tmp_path, paths)


def test_skipped_trials_need_allow_partial(tmp_path: Path, key: dict):
    path = _one(tmp_path, key, lambda r: [x for x in r if x["trial_id"] != "t02"])
    with pytest.raises(AnswersError, match="did not rate 1 of 3 trials"):
        _load(tmp_path, [path])
    ratings = _load(tmp_path, [path], allow_partial=True)
    assert set(ratings.table["trial_id"]) == {"t00", "t01"}


def test_json_rows_inherit_the_files_listener(tmp_path: Path, key: dict):
    rows = answer_rows(key, "ann", typical)
    for row in rows:
        del row["listener"]
    doc = {"schema_version": 1, "listener": "ann", "session_id": "sess-ann", "rows": rows}
    (tmp_path / "a.json").write_text(json.dumps(doc), encoding="utf-8")
    assert _load(tmp_path, [tmp_path / "a.json"]).table["listener"].unique().tolist() == ["ann"]


def test_unreadable_and_wrong_files(tmp_path: Path, key: dict):
    with pytest.raises(AnswersError, match="cannot read answers file"):
        _load(tmp_path, [tmp_path / "missing.csv"])
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(AnswersError, match=r"expected a \.csv or \.json file"):
        _load(tmp_path, [tmp_path / "a.txt"])
    (tmp_path / "b.csv").write_text("listener,rating\nann,3\n", encoding="utf-8")
    with pytest.raises(AnswersError, match="missing column"):
        _load(tmp_path, [tmp_path / "b.csv"])
    (tmp_path / "c.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(AnswersError, match="not valid JSON"):
        _load(tmp_path, [tmp_path / "c.json"])


def test_key_checks(tmp_path: Path, key: dict):
    broken = dict(key, schema_version=2)
    (tmp_path / "k2.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(AnswersError, match="schema_version 2 is not supported"):
        load_key(tmp_path / "k2.json")
    broken = json.loads(json.dumps(key))
    broken["conditions"]["ref"]["kind"] = "hidden"
    (tmp_path / "k3.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(AnswersError, match="unknown kind 'hidden'"):
        load_key(tmp_path / "k3.json")
    broken = json.loads(json.dumps(key))
    sid = next(iter(broken["trials"][0]["stimuli"]))
    broken["trials"][0]["stimuli"][sid] = "lp35"
    (tmp_path / "k4.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(AnswersError, match="disagrees with 'stimuli'"):
        load_key(tmp_path / "k4.json")


def test_find_key_beside_or_above(tmp_path: Path, key: dict):
    beside = write_csv(tmp_path / "a.csv", answer_rows(key, "ann", typical))
    below = write_csv(tmp_path / "answers" / "b.csv", answer_rows(key, "bob", typical))
    assert find_key([beside, below]) == (tmp_path / "key.json").resolve()
    stray = tmp_path / "x" / "y" / "z"
    stray.mkdir(parents=True)
    with pytest.raises(AnswersError, match="pass --key"):
        find_key([stray / "c.csv"])


def test_unplayed_ratings_are_kept_and_noted(tmp_path: Path, key: dict):
    path = _one(tmp_path, key, lambda r: r[2].update(played=0))
    ratings = _load(tmp_path, [path])
    assert len(ratings.table) == 3 * 6
    assert any("1 rating(s) of stimuli marked as not played" in n for n in ratings.notes)
