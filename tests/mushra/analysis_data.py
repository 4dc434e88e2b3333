"""Constructed key.json and answers files for the analysis tests (no audio, no page needed).

The key has the shape ``python -m bench mushra`` writes (docs/mushra.md): items, conditions
(hidden reference, both low-pass anchors, codecs), one trial per item with opaque stimulus ids,
and per stimulus the objective scores. Ratings come from a function of (listener, item,
condition), so each test states exactly what every listener answered.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.mushra.answers import ANSWER_COLUMNS

#: Condition id -> (kind, codec, kbps, label) of the default test.
CONDITIONS: dict[str, tuple[str, str | None, float | None, str]] = {
    "ref": ("reference", None, None, "hidden reference"),
    "lp70": ("anchor_lp70", None, None, "anchor 7 kHz"),
    "lp35": ("anchor_lp35", None, None, "anchor 3.5 kHz"),
    "opus16": ("codec", "opus", 16.0, "opus 16 kbps"),
    "mp3_32": ("codec", "mp3", 32.0, "mp3 32 kbps"),
    "namc6": ("codec", "namc", 6.0, "namc 6 kbps"),
}

Rate = Callable[[str, str, str], float]


def stimulus_id(item: str, condition: str) -> str:
    """An opaque-looking id that still lets a test find its stimulus."""
    digest = hashlib.sha256(f"{item}\0{condition}".encode()).hexdigest()[:12]
    return f"s{digest}"


def make_key(
    folder: Path,
    n_items: int = 6,
    conditions: dict[str, tuple[str, str | None, float | None, str]] | None = None,
    objective: Callable[[str, str], dict[str, Any]] | None = None,
    item_names: Sequence[str] | None = None,
    blocks: Sequence[Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Write ``folder/key.json`` and return it: one trial per item and block (default: one
    block of every condition); ``blocks`` lists each block's conditions, the way the generator
    puts the hidden reference and anchors on every block's screen."""
    conditions = CONDITIONS if conditions is None else conditions
    items = list(item_names) if item_names else [f"item{i:02d}" for i in range(n_items)]
    key: dict[str, Any] = {
        "schema_version": 1,
        "created": "2026-12-02T12:00:00Z",
        "run_dir": str(folder),
        "run_id": "run-test",
        "suite_version": "test",
        "design_seed": 7,
        "loudness": {"method": "test", "target": -23},
        "items": {
            i: {"dataset": "esc50", "clip_id": i, "offset_s": 0.0, "duration_s": 10.0, "why": "t"}
            for i in items
        },
        "conditions": {
            c: {"kind": k, "codec": codec, "target_kbps": rate, "actual_kbps": rate, "label": label}
            for c, (k, codec, rate, label) in conditions.items()
        },
        "trials": [],
        "stimuli": {},
    }
    blocks = [list(conditions)] if blocks is None else [list(b) for b in blocks]
    number = 0
    for item in items:
        for block, names in enumerate(blocks):
            on_screen = {}
            for cid in names:
                sid = stimulus_id(f"{item}/{block}", cid)
                on_screen[sid] = cid
                key["stimuli"][sid] = {
                    "file": f"audio/{sid}.wav",
                    "item_id": item,
                    "condition_id": cid,
                    "objective": objective(item, cid) if objective else {},
                }
            key["trials"].append(
                {
                    "trial_id": f"t{number:02d}",
                    "item_id": item,
                    "block": block,
                    "stimuli": on_screen,
                    "reference_file": f"audio/r{number}.wav",
                }
            )
            number += 1
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "key.json").write_text(json.dumps(key, indent=1), encoding="utf-8")
    return key


def answer_rows(key: dict[str, Any], listener: str, rate: Rate, session: str = "") -> list[dict]:
    """One row per stimulus of every trial, rated by ``rate(listener, item, condition)``."""
    rows = []
    for trial in key["trials"]:
        for sid, cid in trial["stimuli"].items():
            rows.append(
                {
                    "listener": listener,
                    "session_id": session or f"sess-{listener}",
                    "seed": 11,
                    "block": trial["block"],
                    "trial_id": trial["trial_id"],
                    "item_id": trial["item_id"],
                    "stimulus_id": sid,
                    "rating": rate(listener, trial["item_id"], cid),
                    "played": 1,
                    "play_seconds": 12.5,
                    "rated_at": "2026-12-02T12:30:00Z",
                }
            )
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    """An answers CSV as the page downloads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(ANSWER_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_json(path: Path, rows: list[dict]) -> Path:
    """An answers JSON as the page downloads it."""
    first = rows[0]
    doc = {
        "schema_version": 1,
        "page_version": "test",
        "listener": first["listener"],
        "session_id": first["session_id"],
        "seed": first["seed"],
        "started_at": "2026-12-02T12:00:00Z",
        "finished_at": "2026-12-02T12:40:00Z",
        "user_agent": "pytest",
        "rows": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


#: A plausible panel: reference 100, codecs by quality, anchors low; small listener offsets.
QUALITY = {"ref": 100, "namc6": 72, "mp3_32": 60, "opus16": 80, "lp70": 45, "lp35": 20}


def typical(listener: str, item: str, condition: str) -> float:
    """Ratings of a careful listener: QUALITY with a small per-listener, per-item offset."""
    if condition == "ref":
        return 100
    offset = (sum(map(ord, listener)) % 7) - 3 + (int(item[-1]) % 3) - 1
    return max(0, min(100, QUALITY[condition] + offset))


def panel(
    folder: Path,
    key: dict[str, Any],
    listeners: Sequence[str],
    rate: Rate = typical,
    fmt: str = "csv",
) -> list[Path]:
    """Write one answers file per listener; returns their paths."""
    paths = []
    for name in listeners:
        rows = answer_rows(key, name, rate)
        target = folder / f"mushra-{name}-11.{fmt}"
        paths.append(write_csv(target, rows) if fmt == "csv" else write_json(target, rows))
    return paths
