"""The results store: an SQLite database of finished work, keyed by content and code versions.

One row per *point* (a clip's content encoded by one codec version at one bitrate) and one row
per *score* (a point scored by one metric version). Keys are hashes of everything that changes
the result, so:

* a run killed at any moment (even ``kill -9``) and started again computes only what is missing;
* adding a codec or a metric to a finished run computes only that codec's points or that
  metric's scores;
* a new adapter or library version, or different clip bytes, never reuses a stale result.

Only the main process writes (workers send results over pipes), each result in its own
transaction, in WAL mode: a crash loses at most the work in flight, never the file.
Transient failures (a timeout, a crashed worker) are returned to the caller but not stored, so
the next run retries them; deterministic failures (an unreadable file, a bitrate the codec
refuses) are stored like results.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError

#: Bump when the tables change; an older store is refused with a clear message.
STORE_SCHEMA = 1

#: Error kinds that are not stored: the same work may well succeed when run again.
TRANSIENT_ERRORS = frozenset({"timeout", "crash", "internal"})

#: Columns of a point row (besides its key), in order.
POINT_FIELDS = (
    "status", "error", "error_kind", "actual_kbps", "bytes", "header_bytes", "container_bytes",
    "total_bytes", "duration_s", "sample_rate", "channels", "lag_samples", "lag_method",
    "native_rate", "encode_s", "decode_s", "metrics_s", "params",
)  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    error_kind TEXT NOT NULL DEFAULT '',
    actual_kbps REAL, bytes INTEGER, header_bytes INTEGER, container_bytes INTEGER,
    total_bytes INTEGER, duration_s REAL, sample_rate INTEGER, channels INTEGER,
    lag_samples INTEGER, lag_method TEXT, native_rate INTEGER,
    encode_s REAL, decode_s REAL, metrics_s REAL, params TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS scores (
    point_key TEXT NOT NULL,
    metric_key TEXT NOT NULL,
    value REAL,
    reason TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    seconds REAL,
    created REAL NOT NULL,
    PRIMARY KEY (point_key, metric_key)
);
"""


class StoreError(BenchError, RuntimeError):
    """The results store cannot be read or written (damaged file, full disk, other schema)."""


def stable_hash(*parts: Any) -> str:
    """SHA-256 of a canonical JSON encoding of ``parts`` (dict order does not matter)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class StoredPoint:
    """A point as stored: its fields plus the scores found for the asked metrics."""

    fields: Mapping[str, Any]
    scores: Mapping[str, tuple[float, str, str]]  # metric key -> (value, reason, detail)


class ResultStore:
    """SQLite-backed cache of points and scores. Use from one process (the writer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Autocommit mode: each write below is its own explicit transaction.
            self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unusable(exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable against process kills
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(STORE_SCHEMA),))
        except (sqlite3.Error, ValueError) as exc:  # ValueError: undecodable text in a page
            self._db.close()
            raise self._unusable(exc) from None
        if row is not None and row[0] != str(STORE_SCHEMA):
            self._db.close()
            raise StoreError(
                f"{self.path} is a results store of schema {row[0]!s:.20}, this version uses "
                f"{STORE_SCHEMA}; use another --cache file"
            )

    def _unusable(self, exc: Exception) -> StoreError:
        return StoreError(
            f"{self.path} is not a usable results store ({exc}); move it away or choose "
            "another --cache file (a new store is created there)"
        )

    def close(self) -> None:
        """Close the connection (the data is already committed)."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -------------------------------------------------------------------------------
    def get_points(
        self, keys: Iterable[str], metric_keys: Mapping[str, Iterable[str]]
    ) -> dict[str, StoredPoint]:
        """The stored points among ``keys`` with their scores for ``metric_keys[key]``."""
        try:
            return self._get_points(list(dict.fromkeys(keys)), metric_keys)
        except (sqlite3.Error, ValueError, TypeError) as exc:  # damaged pages or rows
            raise self._damaged(exc) from None

    def _get_points(
        self, keys: list[str], metric_keys: Mapping[str, Iterable[str]]
    ) -> dict[str, StoredPoint]:
        found: dict[str, StoredPoint] = {}
        columns = ", ".join(POINT_FIELDS)
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, {columns} FROM points WHERE key IN ({marks})", chunk
            ).fetchall()
            fields_by_key = {}
            for row in rows:
                fields = dict(zip(POINT_FIELDS, row[1:], strict=True))
                fields["params"] = json.loads(fields["params"]) if fields["params"] else {}
                fields_by_key[row[0]] = fields
            scores: dict[str, dict[str, tuple[float, str, str]]] = {k: {} for k in fields_by_key}
            wanted = {k: set(metric_keys.get(k, ())) for k in fields_by_key}
            # One query per chunk, not per point: a cached run of a large corpus reads fast.
            for key, mkey, value, reason, detail in self._db.execute(
                "SELECT point_key, metric_key, value, reason, detail FROM scores "
                f"WHERE point_key IN ({marks})",
                chunk,
            ):
                if key in scores and mkey in wanted[key]:
                    value = math.nan if value is None else float(value)
                    scores[key][mkey] = (value, reason, detail)
            for key, fields in fields_by_key.items():
                found[key] = StoredPoint(fields, scores[key])
        return found

    def presence(
        self, keys: Sequence[str], metric_bits: Mapping[str, int]
    ) -> dict[str, tuple[bool, int]]:
        """Compactly, what the store holds for ``keys``: ``key -> (status is ok, bit mask of
        the metric keys in metric_bits that have a score)``. Memory stays small for runs of
        hundreds of thousands of points (no per-point dicts)."""
        held: dict[str, tuple[bool, int]] = {}
        try:
            for chunk in _chunks(list(keys), 500):
                marks = ",".join("?" * len(chunk))
                for key, status in self._db.execute(
                    f"SELECT key, status FROM points WHERE key IN ({marks})", chunk
                ):
                    held[key] = (status == "ok", 0)
                for key, mkey in self._db.execute(
                    f"SELECT point_key, metric_key FROM scores WHERE point_key IN ({marks})",
                    chunk,
                ):
                    bit = metric_bits.get(mkey)
                    if bit is not None and key in held:
                        ok, mask = held[key]
                        held[key] = (ok, mask | (1 << bit))
        except (sqlite3.Error, ValueError, TypeError) as exc:
            raise self._damaged(exc) from None
        return held

    def _damaged(self, exc: Exception) -> StoreError:
        return StoreError(
            f"the results store {self.path} is damaged ({type(exc).__name__}: {exc}); move "
            "it away or choose another --cache file, and run again"
        )

    def count(self) -> tuple[int, int]:
        """(points, scores) stored."""
        points = self._db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        scores = self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        return int(points), int(scores)

    # -- writes ------------------------------------------------------------------------------
    def put(
        self,
        key: str,
        fields: Mapping[str, Any],
        scores: Mapping[str, tuple[float, str, str, float | None]],
    ) -> bool:
        """Store one point and its scores atomically; return False when it is not stored
        (transient errors are left for the next run to retry)."""
        if fields.get("status") != "ok" and fields.get("error_kind") in TRANSIENT_ERRORS:
            return False
        now = time.time()
        values = [fields.get(name) for name in POINT_FIELDS]
        values[POINT_FIELDS.index("params")] = json.dumps(fields.get("params") or {}, default=str)
        values[POINT_FIELDS.index("error")] = fields.get("error") or ""
        values[POINT_FIELDS.index("error_kind")] = fields.get("error_kind") or ""
        marks = ",".join("?" * (len(POINT_FIELDS) + 2))
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                f"INSERT OR REPLACE INTO points (key, {', '.join(POINT_FIELDS)}, created) "
                f"VALUES ({marks})",
                [key, *values, now],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (key, mkey, None if math.isnan(v) else v, r or "", d or "", s, now)
                    for mkey, (v, r, d, s) in scores.items()
                ],
            )
            self._db.execute("COMMIT")
        except BaseException as exc:
            # SQLite has already rolled back after some errors (a full disk): a second
            # ROLLBACK would replace the real error with "no transaction is active".
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if isinstance(exc, (sqlite3.Error, ValueError)):
                raise StoreError(
                    f"cannot write to the results store {self.path} ({exc}); every point "
                    "stored before is kept: free some space and run the same command again"
                ) from None
            raise
        return True


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
