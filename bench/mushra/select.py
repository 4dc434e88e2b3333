"""Which items and conditions a MUSHRA test built from a run contains.

Conditions are codec points of the run: named (``--conditions opus:16,mp3:32``) or matched
(``--match namc[:KBPS]``: the neural codec at one point, every other codec at the ladder point
whose *measured* mean rate is nearest in log-rate). To them the test adds the hidden reference
and the two low-pass anchors (:mod:`bench.mushra.anchors`).

Items are clips of the run on which every chosen condition scored ok, ranked by how much they
stress the codecs (:func:`stress_scores`) and picked with diversity (one per ESC-50 class /
LibriSpeech speaker / folder before any repeats, datasets taken in turn). BS.1534-3 wants at
least 1.5 items per system and never fewer than 5 (:func:`minimum_items`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import BenchError

#: Signals on one MUSHRA screen: the reference button, hidden reference, two anchors, codecs.
MAX_SIGNALS = 12
#: Fixed signals of every trial besides the codecs (reference button, hidden ref, 2 anchors).
FIXED_SIGNALS = 4
MAX_CODECS_PER_TRIAL = MAX_SIGNALS - FIXED_SIGNALS

#: Metrics tried first when ranking items, in this order; then any other metric of the run.
PREFERRED_METRICS = ("visqol", "pesq_wb", "pesq_nb", "stoi", "si_sdr", "snr")


@dataclass(frozen=True)
class CodecCondition:
    """A codec point of the run, with its mean measured rate over the ok rows."""

    codec: str
    target_kbps: float
    actual_kbps: float

    @property
    def label(self) -> str:
        """``opus 16 kbps`` (the target, as named on the command line)."""
        return f"{self.codec} {self.target_kbps:g} kbps"


@dataclass(frozen=True)
class Item:
    """A clip chosen as a test item, and why."""

    dataset: str
    clip_id: str
    stress: float
    why: str


def load_run(run_dir: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``results.csv`` and ``run.json`` of a run folder (BenchError when unreadable)."""
    run_dir = Path(run_dir)
    try:
        results = pd.read_csv(run_dir / "results.csv", dtype={"clip_id": str, "dataset": str})
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{run_dir}: not a finished run folder ({exc})") from None
    from bench.report.table import check_results

    try:
        check_results(results)
    except ValueError as exc:
        raise BenchError(f"{run_dir / 'results.csv'}: {exc}") from None
    return results, meta


def minimum_items(systems: int) -> int:
    """At least 5 items and at least 1.5 per system under test."""
    return max(5, math.ceil(1.5 * systems))


def parse_conditions(text: str) -> list[tuple[str, float]]:
    """``opus:16,mp3:32`` -> ``[("opus", 16.0), ("mp3", 32.0)]``."""
    out: list[tuple[str, float]] = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        codec, sep, kbps = part.rpartition(":")
        try:
            value = float(kbps)
        except ValueError:
            value = math.nan
        if not sep or not codec or not math.isfinite(value) or value <= 0:
            raise BenchError(f"condition {part!r}: expected CODEC:KBPS, e.g. opus:16")
        if (codec, value) not in out:
            out.append((codec, value))
    if not out:
        raise BenchError("no condition given; e.g. --conditions opus:16,mp3:32")
    return out


def point_rates(results: pd.DataFrame) -> pd.DataFrame:
    """Columns codec, target_kbps, actual_kbps (mean over ok rows), clips: lossy points only."""
    ok = results[results["status"].astype(str) == "ok"].copy()
    ok["target_kbps"] = pd.to_numeric(ok["target_kbps"], errors="coerce")
    ok["actual_kbps"] = pd.to_numeric(ok["actual_kbps"], errors="coerce")
    ok = ok[ok["target_kbps"].notna() & ok["actual_kbps"].notna()]
    ok["codec"] = ok["codec"].astype(str)
    table = ok.groupby(["codec", "target_kbps"], sort=True).agg(
        actual_kbps=("actual_kbps", "mean"), clips=("clip_id", "nunique")
    )
    return table.reset_index()


def _point(rates: pd.DataFrame, codec: str, target: float) -> CodecCondition:
    rows = rates[(rates["codec"] == codec) & np.isclose(rates["target_kbps"], target)]
    if rows.empty:
        have = rates[rates["codec"] == codec]["target_kbps"].tolist()
        if not have:
            codecs = ", ".join(sorted(set(rates["codec"]))) or "none"
            raise BenchError(f"codec {codec!r} has no ok lossy point in this run (have: {codecs})")
        listed = ", ".join(f"{t:g}" for t in have)
        raise BenchError(f"{codec} has no ok point at {target:g} kbps in this run (have: {listed})")
    row = rows.iloc[0]
    return CodecCondition(codec, float(row["target_kbps"]), float(row["actual_kbps"]))


def choose_conditions(
    results: pd.DataFrame,
    conditions: Sequence[tuple[str, float]] | None = None,
    match: str | None = None,
    codecs: Iterable[str] | None = None,
    max_rate_ratio: float = 2.0,
) -> tuple[list[CodecCondition], list[str]]:
    """The codec conditions, and notes on codecs left out.

    ``conditions`` (CODEC, KBPS) pairs are taken as named. Otherwise ``match`` (``CODEC`` or
    ``CODEC:KBPS``; default: the first neural codec of the run at its lowest point) fixes the
    reference point, and each codec of ``codecs`` (default: every lossy codec of the run)
    contributes the point whose measured rate is nearest in log-rate (ties: the lower target);
    a codec whose nearest point is more than ``max_rate_ratio`` times off is left out.
    """
    rates = point_rates(results)
    if conditions:
        return [_point(rates, codec, kbps) for codec, kbps in conditions], []
    neural: list[str] = []
    if "neural" in results.columns:
        flags = results["neural"].astype(str).str.lower().isin(("true", "1"))
        neural = sorted(set(results.loc[flags, "codec"].astype(str)))
    if match is None:
        if not neural:
            raise BenchError("this run has no neural codec to match; give --conditions or --match")
        match = neural[0]
    name, _, kbps_text = match.partition(":")
    own = rates[rates["codec"] == name]
    if own.empty:
        raise BenchError(f"--match {name}: no ok lossy point of {name!r} in this run")
    if kbps_text:
        anchor = _point(rates, name, float(kbps_text))
    else:
        row = own.sort_values("target_kbps").iloc[0]
        anchor = CodecCondition(name, float(row["target_kbps"]), float(row["actual_kbps"]))
    chosen, notes = [anchor], []
    wanted = sorted(set(rates["codec"])) if codecs is None else list(dict.fromkeys(codecs))
    for codec in wanted:
        if codec == name:
            continue
        rows = rates[rates["codec"] == codec]
        if rows.empty:
            notes.append(f"{codec}: no ok lossy point in the run")
            continue
        distance = np.abs(np.log(rows["actual_kbps"].to_numpy(float) / anchor.actual_kbps))
        ranked = rows.assign(_d=distance.round(12)).sort_values(["_d", "target_kbps"])
        best = ranked.iloc[0]
        if best["_d"] > math.log(max_rate_ratio):
            notes.append(
                f"{codec}: nearest point {best['actual_kbps']:.3g} kbps is more than "
                f"{max_rate_ratio:g}x from {anchor.label} ({anchor.actual_kbps:.3g} kbps)"
            )
            continue
        chosen.append(CodecCondition(codec, float(best["target_kbps"]), float(best["actual_kbps"])))
    return chosen, notes


def split_blocks(
    conditions: Sequence[CodecCondition], per_trial: int = MAX_CODECS_PER_TRIAL
) -> list[list[CodecCondition]]:
    """Codec conditions split into as few blocks as fit ``per_trial``, sizes within one."""
    if per_trial < 1:
        raise ValueError("per_trial must be at least 1")
    count = max(1, math.ceil(len(conditions) / per_trial))
    size, extra = divmod(len(conditions), count)
    blocks, start = [], 0
    for index in range(count):
        stop = start + size + (1 if index < extra else 0)
        blocks.append(list(conditions[start:stop]))
        start = stop
    return blocks


def _hash(seed: int, *parts: str) -> str:
    return hashlib.sha256("\0".join([str(seed), *parts]).encode()).hexdigest()


def ranking_metric(results: pd.DataFrame, metrics: Sequence[str] = ()) -> str | None:
    """The metric items are ranked with in ``results`` (rows given): the first of
    :data:`PREFERRED_METRICS`, then of ``metrics``, with a finite value in every row."""
    for name in [*PREFERRED_METRICS, *metrics]:
        if name in results.columns:
            values = pd.to_numeric(results[name], errors="coerce")
            if len(values) and np.isfinite(values.to_numpy(float)).all():
                return name
    return None


def _higher_is_better(metric: str) -> bool:
    from bench.metrics import get_metric

    try:
        return bool(get_metric(metric).higher_is_better)
    except BenchError:
        return True


def stress_scores(
    rows: pd.DataFrame, conditions: Sequence[CodecCondition], metric: str
) -> pd.Series:
    """Per clip: how hard it is for the conditions, from ``metric`` on the ok rows ``rows``.

    For each condition the clips are ranked by the metric (percentile 0 = worst, 1 = best);
    ``stress = (1 - mean percentile) + 0.5 * (max - min percentile)``: clips that are hard for
    every codec, or that tell the codecs apart, come first.
    """
    sign = 1.0 if _higher_is_better(metric) else -1.0
    ranks = []
    for cond in conditions:
        part = rows[
            (rows["codec"] == cond.codec) & np.isclose(rows["target_kbps"], cond.target_kbps)
        ]
        values = sign * pd.to_numeric(part[metric], errors="coerce")
        ranks.append(pd.Series(values.rank(pct=True).to_numpy(), index=part["clip_id"].to_numpy()))
    table = pd.concat(ranks, axis=1)
    return (1 - table.mean(axis=1)) + 0.5 * (table.max(axis=1) - table.min(axis=1))


def select_items(
    results: pd.DataFrame,
    conditions: Sequence[CodecCondition],
    count: int,
    seed: int,
    groups: Mapping[tuple[str, str], str] | None = None,
    metrics: Sequence[str] = (),
    available: Iterable[tuple[str, str]] | None = None,
) -> list[Item]:
    """``count`` items (deterministic given ``seed``); BenchError when too few clips qualify.

    ``groups`` maps (dataset, clip_id) to the clip's class/speaker/folder for diversity;
    ``available`` (dataset, clip_id) pairs restrict the choice to clips that can be reloaded.
    """
    ok = results[results["status"].astype(str) == "ok"].copy()
    ok["target_kbps"] = pd.to_numeric(ok["target_kbps"], errors="coerce")
    ok["codec"] = ok["codec"].astype(str)
    allowed = None if available is None else set(available)
    ranked: dict[str, list[tuple[str, float, str]]] = {}
    for dataset, rows in ok.groupby(ok["dataset"].astype(str), sort=True):
        keep = None
        for cond in conditions:
            hit = rows[
                (rows["codec"] == cond.codec) & np.isclose(rows["target_kbps"], cond.target_kbps)
            ]
            clips = set(hit["clip_id"].astype(str))
            keep = clips if keep is None else keep & clips
        clips = sorted(c for c in (keep or set()) if allowed is None or (dataset, c) in allowed)
        if not clips:
            continue
        mine = rows[rows["clip_id"].isin(clips)]
        mask = np.zeros(len(mine), dtype=bool)
        for cond in conditions:
            mask |= (mine["codec"] == cond.codec).to_numpy() & np.isclose(
                mine["target_kbps"].to_numpy(float), cond.target_kbps
            )
        mine = mine[mask]
        metric = ranking_metric(mine, metrics)
        if metric is None:
            stress = pd.Series(0.0, index=clips)
            how = "no metric to rank with"
        else:
            stress = stress_scores(mine, conditions, metric)
            how = metric
        ranked[dataset] = sorted(
            ((c, float(stress.get(c, 0.0)), how) for c in clips),
            key=lambda entry: (-round(entry[1], 12), _hash(seed, dataset, entry[0])),
        )
    total = sum(len(v) for v in ranked.values())
    if total < count:
        raise BenchError(
            f"only {total} clip(s) have an ok result for every condition; the test needs "
            f"{count} items (at least 5 and 1.5 per system): run more clips (--limit) or "
            "choose fewer conditions"
        )
    chosen: list[Item] = []
    taken: set[tuple[str, str]] = set()
    for distinct in (True, False):
        used_groups: set[tuple[str, str]] = {
            (i.dataset, (groups or {}).get((i.dataset, i.clip_id), i.clip_id)) for i in chosen
        }
        queues = {d: [e for e in v if (d, e[0]) not in taken] for d, v in ranked.items()}
        while len(chosen) < count and any(queues.values()):
            for dataset in sorted(queues):
                queue = queues[dataset]
                while queue:
                    clip, stress, how = queue.pop(0)
                    group = (groups or {}).get((dataset, clip), clip)
                    if distinct and (dataset, group) in used_groups:
                        continue
                    used_groups.add((dataset, group))
                    taken.add((dataset, clip))
                    rank = 1 + [e[0] for e in ranked[dataset]].index(clip)
                    chosen.append(
                        Item(
                            dataset,
                            clip,
                            stress,
                            f"stress rank {rank} of {len(ranked[dataset])} "
                            f"in {dataset} by {how} (stress {stress:.3f}), group {group}",
                        )
                    )
                    break
                if len(chosen) >= count:
                    break
        if len(chosen) >= count:
            break
    return chosen
