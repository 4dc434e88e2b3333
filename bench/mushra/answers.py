"""Reading a listening test's key and its listeners' answers, checked against each other.

``key.json`` (written by ``python -m bench mushra``) maps the page's opaque stimulus ids to
conditions (hidden reference, 3.5 kHz and 7 kHz low-pass anchors, codecs) and holds each
stimulus's objective scores. The answers are the CSV or JSON files the page downloads, one
session a file (see ``docs/mushra.md``). :func:`load_ratings` turns both into one table, one
row per (listener, trial, stimulus) rating, with the condition and item joined in, and refuses
anything inconsistent with a message naming the file and the offending value: an unknown trial
or stimulus, a stimulus rated in the wrong trial, a rating outside 0..100, a trial rated only
in part, the same listener in two sessions, a listener's file mixing listeners.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError

#: Condition kinds in key.json.
REFERENCE, LOW_ANCHOR, MID_ANCHOR, CODEC = "reference", "anchor_lp35", "anchor_lp70", "codec"
KINDS = (REFERENCE, LOW_ANCHOR, MID_ANCHOR, CODEC)

#: Columns of an answers CSV (and of each row of an answers JSON), per docs/mushra.md.
ANSWER_COLUMNS = (
    "listener",
    "session_id",
    "seed",
    "block",
    "trial_id",
    "item_id",
    "stimulus_id",
    "rating",
    "played",
    "play_seconds",
    "rated_at",
)
#: The columns the analysis needs; the others are carried when present.
REQUIRED_COLUMNS = ("listener", "session_id", "trial_id", "stimulus_id", "rating")

#: Columns of the ratings table :func:`load_ratings` returns.
RATING_COLUMNS = (
    "listener",
    "session_id",
    "file",
    "trial_id",
    "block",
    "item_id",
    "stimulus_id",
    "condition_id",
    "kind",
    "rating",
)

#: Largest answers or key file read (a session is a few hundred rows; this is a sanity bound).
MAX_FILE_BYTES = 64 * 2**20


class AnswersError(BenchError, ValueError):
    """A key or answers file that cannot be read or does not fit the key."""


@dataclass(frozen=True)
class Condition:
    """One condition of the test (a column of the MUSHRA screen, hidden behind opaque ids)."""

    condition_id: str
    kind: str
    label: str
    codec: str | None = None
    target_kbps: float | None = None
    actual_kbps: float | None = None


@dataclass(frozen=True)
class Trial:
    """One screen: an item, its block, and the stimuli (opaque id -> condition id) on it."""

    trial_id: str
    item_id: str
    block: int
    stimuli: Mapping[str, str]


@dataclass(frozen=True)
class Key:
    """The experimenter's key of one listening test (``key.json``, schema version 1)."""

    path: Path
    conditions: Mapping[str, Condition]
    trials: Mapping[str, Trial]
    stimuli: Mapping[str, Mapping[str, Any]]
    items: Mapping[str, Mapping[str, Any]]
    meta: Mapping[str, Any] = field(default_factory=dict)

    def condition_ids(self, kind: str) -> list[str]:
        """The ids of the conditions of one kind, in key order."""
        return [c for c, cond in self.conditions.items() if cond.kind == kind]

    def objective(self) -> pd.DataFrame:
        """One row per stimulus: stimulus_id, item_id, condition_id, kind, then one float column
        per objective metric (NaN where the key holds null, ``inf`` for "inf" strings)."""
        rows = []
        for sid, stim in self.stimuli.items():
            row: dict[str, Any] = {
                "stimulus_id": sid,
                "item_id": str(stim["item_id"]),
                "condition_id": str(stim["condition_id"]),
                "kind": self.conditions[str(stim["condition_id"])].kind,
            }
            for metric, value in (stim.get("objective") or {}).items():
                row[f"objective:{metric}"] = _objective_value(value)
            rows.append(row)
        return pd.DataFrame(rows)


def _objective_value(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf", "nan"):
        return float(value.strip().lower())
    return math.nan


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise AnswersError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise AnswersError(f"{what} {path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    return data


def _json(path: Path, what: str) -> Any:
    try:
        return json.loads(_read_bytes(path, what).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AnswersError(f"{what} {path} is not valid JSON: {exc}") from None


def _need(mapping: Any, name: str, where: str, kind: type | tuple[type, ...] = dict) -> Any:
    if not isinstance(mapping, Mapping) or name not in mapping:
        raise AnswersError(f"{where}: missing field {name!r}")
    value = mapping[name]
    if not isinstance(value, kind):
        raise AnswersError(f"{where}: field {name!r} has the wrong type")
    return value


def _optional_float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def load_key(path: str | os.PathLike[str]) -> Key:
    """Read and check ``key.json``: every trial's stimuli are in ``stimuli`` with the same item
    and condition, every condition has a known kind, every item exists."""
    key_path = Path(path)
    raw = _json(key_path, "key")
    where = f"key {key_path}"
    if not isinstance(raw, Mapping):
        raise AnswersError(f"{where}: not a JSON object")
    version = raw.get("schema_version")
    if version != 1:
        raise AnswersError(f"{where}: schema_version {version!r} is not supported (expected 1)")
    conditions: dict[str, Condition] = {}
    for cid, cond in _need(raw, "conditions", where).items():
        kind = _need(cond, "kind", f"{where} condition {cid!r}", str)
        if kind not in KINDS:
            raise AnswersError(
                f"{where}: condition {cid!r} has unknown kind {kind!r} "
                f"(expected one of {', '.join(KINDS)})"
            )
        codec = cond.get("codec")
        conditions[str(cid)] = Condition(
            condition_id=str(cid),
            kind=kind,
            label=str(cond.get("label") or cid),
            codec=None if codec is None else str(codec),
            target_kbps=_optional_float(cond.get("target_kbps")),
            actual_kbps=_optional_float(cond.get("actual_kbps")),
        )
    items = {str(k): v for k, v in _need(raw, "items", where).items()}
    stimuli = {str(k): v for k, v in _need(raw, "stimuli", where).items()}
    for sid, stim in stimuli.items():
        here = f"{where} stimulus {sid!r}"
        cid = str(_need(stim, "condition_id", here, str))
        if cid not in conditions:
            raise AnswersError(f"{here}: unknown condition {cid!r}")
        if str(_need(stim, "item_id", here, str)) not in items:
            raise AnswersError(f"{here}: unknown item {stim['item_id']!r}")
        objective = stim.get("objective")
        if objective is not None and not isinstance(objective, Mapping):
            raise AnswersError(f"{here}: 'objective' is not an object")
    trials: dict[str, Trial] = {}
    for trial in _need(raw, "trials", where, list):
        here = f"{where} trial"
        tid = str(_need(trial, "trial_id", here, (str, int)))
        here = f"{where} trial {tid!r}"
        if tid in trials:
            raise AnswersError(f"{where}: trial {tid!r} appears twice")
        item = str(_need(trial, "item_id", here, str))
        if item not in items:
            raise AnswersError(f"{here}: unknown item {item!r}")
        on_screen = {str(s): str(c) for s, c in _need(trial, "stimuli", here).items()}
        for sid, cid in on_screen.items():
            stim = stimuli.get(sid)
            if stim is None:
                raise AnswersError(f"{here}: stimulus {sid!r} is not in 'stimuli'")
            if str(stim["condition_id"]) != cid or str(stim["item_id"]) != item:
                raise AnswersError(f"{here}: stimulus {sid!r} disagrees with 'stimuli'")
        block = trial.get("block", 0)
        trials[tid] = Trial(tid, item, int(block) if isinstance(block, int) else 0, on_screen)
    if not trials:
        raise AnswersError(f"{where}: no trials")
    meta = {k: v for k, v in raw.items() if k not in ("conditions", "items", "stimuli", "trials")}
    return Key(key_path, conditions, trials, stimuli, items, meta)


# -- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """One answers file: the listener, the session and its rows (as read, not yet checked)."""

    path: Path
    listener: str
    session_id: str
    rows: list[dict[str, Any]]


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _read_csv_rows(path: Path) -> list[dict[str, Any]]:
    try:
        text = _read_bytes(path, "answers file").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnswersError(f"answers file {path} is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise AnswersError(f"answers file {path}: missing column(s) {', '.join(missing)}")
    try:
        return [dict(row) for row in reader]
    except csv.Error as exc:
        raise AnswersError(f"answers file {path}: malformed CSV: {exc}") from None


def _read_json_rows(path: Path) -> list[dict[str, Any]]:
    raw = _json(path, "answers file")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rows"), list):
        raise AnswersError(f"answers file {path}: expected an object with a 'rows' list")
    rows = []
    for i, row in enumerate(raw["rows"]):
        if not isinstance(row, Mapping):
            raise AnswersError(f"answers file {path}: row {i + 1} is not an object")
        row = dict(row)
        for name in ("listener", "session_id", "seed"):  # file-level fields fill the rows
            if row.get(name) in (None, "") and raw.get(name) not in (None, ""):
                row[name] = raw[name]
        missing = [c for c in REQUIRED_COLUMNS if c not in row]
        if missing:
            raise AnswersError(
                f"answers file {path}: row {i + 1} lacks field(s) {', '.join(missing)}"
            )
        rows.append(row)
    return rows


def read_session(path: str | os.PathLike[str]) -> Session:
    """Read one answers file (``.csv`` or ``.json``); one listener and one session a file."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        rows = _read_csv_rows(file)
    elif suffix == ".json":
        rows = _read_json_rows(file)
    else:
        raise AnswersError(f"answers file {file}: expected a .csv or .json file")
    if not rows:
        raise AnswersError(f"answers file {file}: no ratings")
    listeners = sorted({_cell(r["listener"]) for r in rows})
    sessions = sorted({_cell(r["session_id"]) for r in rows})
    if len(listeners) != 1 or not listeners[0]:
        shown = ", ".join(repr(x) for x in listeners[:5])
        raise AnswersError(f"answers file {file}: expected one listener name, found {shown}")
    if len(sessions) != 1:
        raise AnswersError(f"answers file {file}: rows of {len(sessions)} sessions in one file")
    return Session(file, listeners[0], sessions[0], rows)


def _rating(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise AnswersError(f"{where}: rating {value!r} is not a number")
    try:
        rating = float(value)
    except (TypeError, ValueError):
        raise AnswersError(f"{where}: rating {value!r} is not a number") from None
    if not (math.isfinite(rating) and 0.0 <= rating <= 100.0):
        raise AnswersError(f"{where}: rating {str(value).strip()} is outside 0..100")
    return rating


def _session_ratings(key: Key, session: Session) -> tuple[dict[tuple[str, str], float], list[str]]:
    """(trial_id, stimulus_id) -> rating for one session, every row checked against the key,
    and the ratings the file marks as not played (``played`` 0)."""
    ratings: dict[tuple[str, str], float] = {}
    unplayed: list[str] = []
    for i, row in enumerate(session.rows):
        where = f"answers file {session.path} row {i + 1}"
        tid, sid = _cell(row["trial_id"]), _cell(row["stimulus_id"])
        trial = key.trials.get(tid)
        if trial is None:
            raise AnswersError(f"{where}: unknown trial {tid!r} (not in {key.path})")
        if sid not in key.stimuli:
            raise AnswersError(f"{where}: unknown stimulus {sid!r} (not in {key.path})")
        if sid not in trial.stimuli:
            raise AnswersError(f"{where}: stimulus {sid!r} is not on trial {tid!r}")
        item = _cell(row.get("item_id"))
        if item and item != trial.item_id:
            raise AnswersError(
                f"{where}: item {item!r} does not match trial {tid!r} (item {trial.item_id!r})"
            )
        if (tid, sid) in ratings:
            raise AnswersError(f"{where}: stimulus {sid!r} of trial {tid!r} rated twice")
        ratings[(tid, sid)] = _rating(row["rating"], where)
        if _cell(row.get("played")) in ("0", "False", "false"):
            unplayed.append(f"{tid}/{sid}")
    by_trial: dict[str, int] = {}
    for tid, _sid in ratings:
        by_trial[tid] = by_trial.get(tid, 0) + 1
    for tid, count in by_trial.items():
        expected = len(key.trials[tid].stimuli)
        if count != expected:
            missing = sorted(set(key.trials[tid].stimuli) - {s for t, s in ratings if t == tid})
            raise AnswersError(
                f"answers file {session.path}: trial {tid!r} is incomplete: {count} of "
                f"{expected} stimuli rated (missing {', '.join(missing)})"
            )
    return ratings, unplayed


@dataclass(frozen=True)
class Ratings:
    """The checked ratings of every listener, and notes on how the files were read."""

    table: pd.DataFrame
    notes: list[str]
    sessions: list[Session]


def load_ratings(
    key: Key,
    paths: Sequence[str | os.PathLike[str]],
    *,
    allow_repeat: bool = False,
    allow_partial: bool = False,
) -> Ratings:
    """The ratings of all ``paths`` (one session each) checked against ``key``.

    The same session in two files (the page downloads both a CSV and a JSON) is read once when
    the ratings agree, and refused when they differ. The same listener in two sessions is an
    error unless ``allow_repeat``; then the listener's ratings of a stimulus are averaged over
    the sessions (one value per listener and stimulus, so no listener counts twice). A listener
    who skipped whole trials is an error unless ``allow_partial``; a trial rated in part always
    is.
    """
    if not paths:
        raise AnswersError("no answers files given")
    notes: list[str] = []
    seen: dict[tuple[str, str], tuple[Path, dict[tuple[str, str], float]]] = {}
    by_listener: dict[str, list[tuple[Session, dict[tuple[str, str], float]]]] = {}
    sessions: list[Session] = []
    for path in paths:
        session = read_session(path)
        ratings, unplayed = _session_ratings(key, session)
        if unplayed:  # the page locks sliders until played: kept, but worth a look
            notes.append(
                f"{session.path}: {len(unplayed)} rating(s) of stimuli marked as not played "
                f"(first: {unplayed[0]})"
            )
        ident = (session.listener, session.session_id)
        if ident in seen:
            first, earlier = seen[ident]
            if earlier != ratings:
                raise AnswersError(
                    f"answers files {first} and {session.path} hold the same session "
                    f"{session.session_id!r} of listener {session.listener!r} with different "
                    "ratings"
                )
            notes.append(f"{session.path}: same session as {first}, read once")
            continue
        seen[ident] = (session.path, ratings)
        sessions.append(session)
        by_listener.setdefault(session.listener, []).append((session, ratings))
    rows: list[dict[str, Any]] = []
    for listener, entries in by_listener.items():
        if len(entries) > 1 and not allow_repeat:
            files = ", ".join(str(s.path) for s, _ in entries)
            raise AnswersError(
                f"listener {listener!r} appears in {len(entries)} sessions ({files}); "
                "pass --allow-repeat to average their ratings per stimulus"
            )
        if len(entries) > 1:
            notes.append(
                f"listener {listener!r}: {len(entries)} sessions, ratings averaged per stimulus"
            )
        merged: dict[tuple[str, str], list[float]] = {}
        for _session, ratings in entries:
            for k, v in ratings.items():
                merged.setdefault(k, []).append(v)
        rated_trials = {tid for tid, _sid in merged}
        skipped = [t for t in key.trials if t not in rated_trials]
        if skipped and not allow_partial:
            raise AnswersError(
                f"listener {listener!r} did not rate {len(skipped)} of {len(key.trials)} trials "
                f"(first: {skipped[0]!r}); pass --allow-partial to analyse partial sessions"
            )
        if skipped:
            notes.append(f"listener {listener!r}: {len(skipped)} trials not rated")
        first = entries[0][0]
        for (tid, sid), values in merged.items():
            trial = key.trials[tid]
            cid = trial.stimuli[sid]
            rows.append(
                {
                    "listener": listener,
                    "session_id": ",".join(s.session_id for s, _ in entries),
                    "file": str(first.path),
                    "trial_id": tid,
                    "block": trial.block,
                    "item_id": trial.item_id,
                    "stimulus_id": sid,
                    "condition_id": cid,
                    "kind": key.conditions[cid].kind,
                    "rating": sum(values) / len(values),
                }
            )
    table = pd.DataFrame(rows, columns=list(RATING_COLUMNS))
    table = table.sort_values(["listener", "trial_id", "condition_id"], kind="stable")
    return Ratings(table.reset_index(drop=True), notes, sessions)


def find_key(answer_paths: Iterable[str | os.PathLike[str]]) -> Path:
    """The key.json beside the answers or in the folder above theirs; all must agree."""
    found: set[Path] = set()
    for path in answer_paths:
        folder = Path(path).resolve().parent
        candidates = [folder / "key.json", folder.parent / "key.json"]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise AnswersError(
                f"no key.json beside {path} or in the folder above it; pass --key DIR/key.json"
            )
        found.add(hit)
    if len(found) != 1:
        raise AnswersError(
            "the answers files sit beside different key.json files; pass --key explicitly"
        )
    return found.pop()
