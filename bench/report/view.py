"""Turning the analysis tables into what the page shows: cell texts, CSS classes, tooltips.

Everything returned here is plain data (str, numbers, lists, dicts); the Jinja template escapes
every string when it writes the page, so nothing in this module builds HTML.
"""

from __future__ import annotations

import math
import os
import shlex
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.report.examples import LOWEST, MATCHED, RenderedExample
from bench.report.info import MetricInfo
from bench.report.table import numeric, ranked_counts, reason_codes, row_groups

#: Longest error message shown in a table cell (the full text is in the cell's tooltip).
MAX_MESSAGE = 160

#: CSS classes: the codec named by the column beats the row's reference / is worse / the
#: difference is within noise / nothing to compare.
BETTER, WORSE, TIE, UNKNOWN = "better", "worse", "tie", "unknown"


# -- formatting --------------------------------------------------------------------------------


def as_float(value: object) -> float | None:
    """``value`` as a float, or ``None`` when it is no number or NaN (a missing value)."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def num(value: object) -> str:
    """A metric value for display: 3 significant-ish digits, ``–`` for NaN/None."""
    x = as_float(value)
    if x is None:
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    magnitude = abs(x)
    if magnitude >= 100:
        return f"{x:.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    if magnitude >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def kbps(value: object) -> str:
    """A measured bitrate for display: ``6.05``, ``12.1``, ``128``; ``–`` when unknown."""
    x = as_float(value)
    if x is None or math.isinf(x):
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def target_text(value: object) -> str:
    """A target bitrate for display; a lossless point (no target) reads ``lossless``."""
    x = as_float(value)
    return "lossless" if x is None else f"{x:g}"


def short(text: object, limit: int = MAX_MESSAGE) -> str:
    """One line of at most ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def point_label(codec: str, target: float, measured: float) -> str:
    """``namc @ 6.02 kbps (target 6)``."""
    return f"{codec} @ {kbps(measured)} kbps (target {target_text(target)})"


# -- at a glance, matched tables, BD-rate --------------------------------------------------------


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``table`` as dicts of Python scalars, in table order: one pass over its
    column arrays (a Series per row, as ``iterrows`` builds, cost more than the page's cells)."""
    columns = [str(c) for c in table.columns]
    values = [table[c].to_numpy().tolist() for c in table.columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _neural_points(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float, float, int]]:
    """Distinct (neural_codec, target, kbps, quality, n) of matched-table rows (the first row of
    each neural codec and target), by codec then rate (ties in table order)."""
    first: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    for r in rows:
        first.setdefault((r["neural_codec"], r["neural_target_kbps"]), r)
    distinct = sorted(first.values(), key=lambda r: (r["neural_codec"], r["neural_kbps"]))
    return [
        (
            str(r["neural_codec"]),
            float(r["neural_target_kbps"]),
            float(r["neural_kbps"]),
            float(r["neural_quality"]),
            int(r["neural_n"]) if "neural_n" in r else 0,
        )
        for r in distinct
    ]


def _nearest(rows: Sequence[Mapping[str, Any]], pick: Callable[..., Any]) -> Mapping[str, Any]:
    """The first row with the lowest (``pick=min``) or highest (``max``) ``bound_kbps``, NaN
    bounds skipped: ``idxmin``/``idxmax`` over the rows."""
    bounds = [(float(r["bound_kbps"]), r) for r in rows]
    return pick((b for b in bounds if not math.isnan(b[0])), key=lambda b: b[0])[1]


def _out_of_range_note(part: Sequence[Mapping[str, Any]]) -> str:
    """Why nothing could be compared at a neural point: the nearest codec's measured range."""
    below = [r for r in part if r["status"] == "below_range"]
    above = [r for r in part if r["status"] == "above_range"]
    notes = []
    if below:
        nearest = _nearest(below, min)
        notes.append(
            f"no other codec goes this low (nearest: {nearest['codec']} "
            f"from {kbps(nearest['bound_kbps'])} kbps)"
        )
    if above:
        nearest = _nearest(above, max)
        notes.append(
            f"no other codec goes this high (nearest: {nearest['codec']} "
            f"up to {kbps(nearest['bound_kbps'])} kbps)"
        )
    return "; ".join(notes) or "no other codec has a curve"


def _flag(value: Any) -> bool:
    """A boolean cell, missing (NA) read as False (``fillna(False).astype(bool)``)."""
    return False if pd.isna(value) else bool(value)


def _verdict(inside: Sequence[Mapping[str, Any]], info: MetricInfo) -> tuple[str, str]:
    """CSS class and note for a neural point against the codecs measured at its rate.

    Worse: some codec is better by a resolved (paired 95 % CI excludes 0) difference; better:
    every codec is worse by a resolved difference; tie: anything else."""
    sign = 1.0 if info.higher_is_better else -1.0

    # Best first (oriented quality falling, then codec name; ties in table order; a NaN
    # quality last, where pandas' sort put it: a NaN key would leave Python's order undefined).
    def best_first(r: Mapping[str, Any]) -> tuple[bool, float, str]:
        quality = float(r["quality"])
        missing = math.isnan(quality)
        return (missing, 0.0 if missing else -sign * quality, r["codec"])

    ranked = sorted(inside, key=best_first)
    resolved = [_flag(r["resolved"]) for r in ranked]
    winners = [r for r, res in zip(ranked, resolved, strict=True) if res and _flag(r["better"])]
    if winners:
        top = winners[0]
        return WORSE, f"beaten by {top['codec']} ({num(top['quality'])})"
    top = ranked[0]
    if all(resolved):
        return BETTER, f"best of {len(ranked) + 1}; next {top['codec']} ({num(top['quality'])})"
    unresolved = next(r for r, res in zip(ranked, resolved, strict=True) if not res)
    return TIE, (
        f"not resolved against {unresolved['codec']} ({num(unresolved['quality'])}): "
        "paired 95 % CI includes 0"
    )


def glance(
    matched: pd.DataFrame, metrics: Mapping[str, MetricInfo], metric_names: Sequence[str]
) -> dict[str, Any]:
    """Per neural operating point and metric: is the neural codec the best measured codec at
    that bitrate, and if not, which codec beats it."""
    rows: list[dict[str, Any]] = []
    names = [m for m in metric_names if m in set(matched["metric"])]
    points = {
        (str(c), float(t))
        for c, t in zip(matched["neural_codec"], matched["neural_target_kbps"], strict=True)
    }
    # (neural codec, target, metric) -> its rows in table order, read in one pass.
    by_cell: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    for r in _records(matched):
        key = (r["neural_codec"], r["neural_target_kbps"], r["metric"])
        by_cell.setdefault(key, []).append(r)
    for codec, target in sorted(points):
        cells: list[dict[str, Any]] = []
        label = ""
        for metric in names:
            part = by_cell.get((codec, target, metric), [])
            if not part:
                cells.append({"text": "–", "sub": "not scored", "cls": UNKNOWN, "title": ""})
                continue
            first = part[0]
            label = label or point_label(codec, target, first["neural_kbps"])
            info = metrics[metric]
            inside = [r for r in part if r["status"] == "ok"]
            value = num(first["neural_quality"])
            if not inside:
                cells.append(
                    {"text": value, "sub": _out_of_range_note(part), "cls": UNKNOWN, "title": ""}
                )
                continue
            cls, sub = _verdict(inside, info)
            outside = len(part) - len(inside)
            title = f"{len(inside)} other codec(s) measured at this rate"
            if outside:
                title += f"; {outside} outside their measured range"
            cells.append({"text": value, "sub": sub, "cls": cls, "title": title})
        rows.append({"label": label or f"{codec} (target {target_text(target)})", "cells": cells})
    return {"metrics": [metrics[m] for m in names], "rows": rows}


def _blank() -> dict[str, Any]:
    return {"text": "", "sub": "", "cls": UNKNOWN, "title": ""}


def _quality_cell(r: Any, neural_codec: str, info: MetricInfo) -> dict[str, Any]:
    status, bound = str(r["status"]), float(r["bound_kbps"])
    if status == "below_range":
        return {
            "text": "below range",
            "sub": f"starts at {kbps(bound)} kbps",
            "cls": UNKNOWN,
            "title": "not extrapolated",
        }
    if status == "above_range":
        return {
            "text": "above range",
            "sub": f"ends at {kbps(bound)} kbps",
            "cls": UNKNOWN,
            "title": "not extrapolated",
        }
    if status != "ok":
        return {"text": "no curve", "sub": "", "cls": UNKNOWN, "title": "fewer than 2 points"}
    paired = (
        f"; paired over {int(r['n_paired'])} clips: {num(r['delta_paired'])} "
        f"± {num(r['delta_paired_ci95'])}"
        if int(r["n_paired"])
        else "; no clip to pair"
    )
    sign = "+" if float(r["delta"]) >= 0 else ""
    title = f"{sign}{num(r['delta'])} {info.unit} against {neural_codec}{paired}"
    if not bool(r["resolved"]):
        return {"text": num(r["quality"]), "sub": "≈ within noise", "cls": TIE, "title": title}
    return {
        "text": num(r["quality"]),
        "sub": "",
        "cls": BETTER if bool(r["better"]) else WORSE,
        "title": title,
    }


def _rate_cell(r: Any, neural_codec: str, neural_rate: float) -> dict[str, Any]:
    status, bound, codec = str(r["status"]), float(r["bound_kbps"]), str(r["codec"])
    if status == "ok":
        ratio = float(r["rate_ratio"])
        return {
            "text": f"{kbps(r['required_kbps'])} kbps",
            "sub": f"×{ratio:.2f}",
            "cls": BETTER if ratio < 1 else WORSE,
            "title": f"{codec} needs {ratio:.2f} times the bits of {neural_codec}",
        }
    if status == "below_range":
        return {
            "text": f"≤ {kbps(bound)} kbps",
            "sub": "reached at its lowest rate",
            "cls": BETTER if bound <= neural_rate else UNKNOWN,
            "title": "the quality is reached below the measured range",
        }
    if status == "not_reached":
        return {
            "text": f"> {kbps(bound)} kbps",
            "sub": "not reached",
            "cls": WORSE if bound >= neural_rate else UNKNOWN,
            "title": "no measured bitrate of this codec reaches that quality",
        }
    return {"text": "no curve", "sub": "", "cls": UNKNOWN, "title": "fewer than 2 points"}


def _matched_view(
    table: pd.DataFrame,
    metrics: Mapping[str, MetricInfo],
    metric_names: Sequence[str],
    make_cell: Callable[[Any, str, float, MetricInfo], dict[str, Any]],
) -> dict[str, Any]:
    codecs = sorted(set(table["codec"].astype(str)))
    # metric -> (neural codec, target) -> codec -> its row (the last, if repeated), read in one
    # pass instead of filtering the table per metric and per neural point.
    by_metric: dict[Any, list[dict[str, Any]]] = {}
    for r in _records(table):
        by_metric.setdefault(r["metric"], []).append(r)
    groups = []
    for metric in metric_names:
        part = by_metric.get(metric)
        if not part:
            continue
        info = metrics[metric]
        at_point: dict[tuple[Any, Any], dict[str, dict[str, Any]]] = {}
        for r in part:
            key = (r["neural_codec"], r["neural_target_kbps"])
            at_point.setdefault(key, {})[str(r["codec"])] = r
        rows = []
        for codec, target, rate, quality, n in _neural_points(part):
            by_codec = at_point[(codec, target)]
            cells = [
                make_cell(by_codec[other], codec, rate, info) if other in by_codec else _blank()
                for other in codecs
            ]
            rows.append(
                {
                    "label": point_label(codec, target, rate),
                    "value": num(quality),
                    "n": n,
                    "cells": cells,
                }
            )
        groups.append({"info": info, "rows": rows})
    return {"codecs": codecs, "groups": groups}


def matched_quality_view(
    table: pd.DataFrame, metrics: Mapping[str, MetricInfo], metric_names: Sequence[str]
) -> dict[str, Any]:
    """One dataset's matched-quality table: per metric, rows = neural points, columns = codecs,
    cells = the codec's interpolated score at the neural point's measured rate."""
    return _matched_view(
        table, metrics, metric_names, lambda r, codec, _rate, info: _quality_cell(r, codec, info)
    )


def matched_rate_view(
    table: pd.DataFrame, metrics: Mapping[str, MetricInfo], metric_names: Sequence[str]
) -> dict[str, Any]:
    """One dataset's required-rate table: per metric, rows = neural points, columns = classic
    codecs, cells = the rate the codec needs for the neural point's score and its ratio."""
    return _matched_view(
        table, metrics, metric_names, lambda r, codec, rate, _info: _rate_cell(r, codec, rate)
    )


def bd_view(part: pd.DataFrame, info: MetricInfo) -> dict[str, Any]:
    """One dataset x metric BD-rate matrix: row = anchor, column = codec, cell = % rate change
    of the column codec against the row codec at equal quality."""
    codecs = sorted(set(part["anchor"]) | set(part["codec"]))
    lookup = {(str(r["anchor"]), str(r["codec"])): r for r in _records(part)}
    rows = []
    for anchor in codecs:
        cells = []
        for codec in codecs:
            r = lookup.get((anchor, codec))
            if anchor == codec or r is None:
                cells.append({"text": "", "sub": "", "cls": "self", "title": ""})
                continue
            value = float(r["bd_rate_pct"])
            if math.isnan(value):
                reason = str(r["reason"])
                detail = (
                    f"frontier points: {anchor} {r['n_anchor']}, {codec} {r['n_codec']}"
                    if reason == "too_few_points"
                    else ""
                )
                cells.append(
                    {"text": reason.replace("_", " "), "sub": "", "cls": UNKNOWN, "title": detail}
                )
                continue
            cells.append(
                {
                    "text": f"{value:+.1f} %",
                    "sub": "",
                    "cls": BETTER if value < 0 else WORSE,
                    "title": (
                        f"{codec} vs {anchor} over {info.name} "
                        f"{num(r['overlap_low'])}–{num(r['overlap_high'])}"
                    ),
                }
            )
        rows.append({"anchor": anchor, "cells": cells})
    return {"info": info, "codecs": codecs, "rows": rows}


# -- summary and failures ----------------------------------------------------------------------


def summary_view(
    summary: pd.DataFrame, metric_names: Sequence[str], neural: set[str]
) -> dict[str, Any]:
    """Rows of the summary table of one dataset, with ``mean ± CI`` cells per metric."""
    names = [m for m in metric_names if f"{m}_mean" in summary.columns]
    rows = []
    for r in _records(summary):
        cells = []
        for m in names:
            n, n_nan = int(r[f"{m}_n"]), int(r[f"{m}_n_nan"])
            if n:
                ci = float(r[f"{m}_ci95"])
                text = num(r[f"{m}_mean"]) + ("" if math.isnan(ci) else f" ± {num(ci)}")
            else:
                text = "–"
            title = f"n={n}"
            if n_nan:
                title += f"; {n_nan} NaN, mostly {r[f'{m}_nan_reason']}"
            cells.append({"text": text, "title": title, "cls": "partial" if n_nan and n else ""})
        rows.append(
            {
                "codec": str(r["codec"]),
                "neural": str(r["codec"]) in neural,
                "target": target_text(r["target_kbps"]),
                "measured": kbps(r["actual_kbps_mean"]),
                "range": f"{kbps(r['actual_kbps_min'])}–{kbps(r['actual_kbps_max'])}",
                "ok": int(r["n_ok"]),
                "failed": int(r["n_failed"]),
                "cells": cells,
            }
        )
    return {"metrics": names, "rows": rows}


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "(no message)"


def failures_view(rows: pd.DataFrame, metric_names: Sequence[str]) -> dict[str, Any]:
    """Failure counts per (codec, target) cell of one dataset: failed rows with their most
    common errors, and metric NaNs among the ok rows by reason (``not_applicable`` left out:
    it is expected, not a failure)."""
    ok = rows["status"].astype(str).to_numpy() == "ok"
    if "error" in rows.columns:
        errors_text = rows["error"].to_numpy(dtype=object)
    else:
        errors_text = np.full(len(rows), "", dtype=object)
    reasons = {m: reason_codes(rows, m) for m in metric_names if m in rows.columns}
    cells = []
    grouped = rows.groupby(["codec", "target_kbps"], sort=True, dropna=False)
    for (codec, target), index in grouped.indices.items():
        failed = index[~ok[index]]
        errors = []
        if len(failed):
            messages = [_one_line("" if pd.isna(e) else str(e)) for e in errors_text[failed]]
            top = ranked_counts(messages)[:3]
            errors = [{"count": c, "text": short(m), "full": m} for m, c in top]
            rest = len(failed) - sum(c for _, c in top)
            if rest:
                errors.append({"count": rest, "text": "other errors", "full": ""})
        nans = []
        for m, codes in reasons.items():
            found = [r for r in codes[index[ok[index]]] if r and r != "not_applicable"]
            if found:
                detail = ", ".join(f"{k} ×{v}" for k, v in ranked_counts(found))
                nans.append({"metric": m, "count": len(found), "detail": detail})
        if errors or nans:
            cells.append(
                {
                    "codec": str(codec),
                    "target": target_text(target),
                    "n": len(index),
                    "failed": len(failed),
                    "errors": errors,
                    "nans": nans,
                }
            )
    return {"total": len(rows), "failed": int((~ok).sum()), "cells": cells}


# -- examples ----------------------------------------------------------------------------------


def relative_url(out_dir: Path, path: str | os.PathLike[str]) -> str:
    """URL of ``path`` relative to ``out_dir`` (percent-quoted); ``ValueError`` when outside."""
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = out_dir / candidate
    resolved, root = candidate.resolve(), out_dir.resolve()
    try:
        relative = resolved.relative_to(root)
    except ValueError:
        raise ValueError(f"example file {path} is not inside the report folder {out_dir}") from None
    return "/".join(urllib.parse.quote(part) for part in relative.parts)


def examples_view(
    out_dir: Path,
    examples: Iterable[RenderedExample],
    results: pd.DataFrame,
    metric_names: Sequence[str],
) -> dict[str, list[dict[str, Any]]]:
    """Per dataset: the clips with their players (or the reason a player is missing), the
    clip's measured kbps and first two metric values at each point."""
    out: dict[str, list[dict[str, Any]]] = {}
    examples = list(examples)
    if not examples:
        return out
    extra = [c for c in ("category", "label", "transcript") if c in results.columns]
    # The table's columns read once; each example takes its clip's row positions.
    by_clip = row_groups(
        results["dataset"].astype(str).to_numpy(), results["clip_id"].astype(str).to_numpy()
    )
    codecs = results["codec"].astype(str).to_numpy()
    targets = numeric(results, "target_kbps")
    scores = {m: numeric(results, m) for m in metric_names}
    # Cells show the table's own values (the formatting converts them).
    shown_columns = ("actual_kbps", *metric_names, *extra)
    raw = {c: results[c].to_numpy() for c in shown_columns if c in results.columns}
    nowhere = np.empty(0, dtype=np.intp)
    for example in examples:
        req = example.request
        index = by_clip.get((req.dataset, req.clip_id), nowhere)
        # The clip's own scores for the first two metrics that have any on this clip.
        shown = [m for m in metric_names if np.isfinite(scores[m][index]).any()][:2]
        info = []
        for column in extra:
            values = [str(v) for v in raw[column][index] if not pd.isna(v)]
            if values and values[0].strip():
                info.append({"name": column, "text": short(values[0], 400)})
        original = _player(out_dir, example.original)
        points = []
        for point in req.points:
            same = (codecs[index] == point.codec) & (targets[index] == point.target_kbps)
            row = int(index[same][0]) if same.any() else None
            roles = []
            if LOWEST in point.roles:
                roles.append("lowest bitrate")
            if MATCHED in point.roles:
                roles.append("matched to " + ", ".join(point.matched_to))
            player = _player(out_dir, example.decoded.get(point))
            error = example.errors.get(point)
            if player["src"] is None and error is None:
                error = player["error"] or "not rendered"
            points.append(
                {
                    "codec": point.codec,
                    "target": target_text(point.target_kbps),
                    "measured": kbps(raw["actual_kbps"][row]) if row is not None else "–",
                    "roles": "; ".join(roles),
                    "scores": [
                        {"metric": m, "text": num(raw[m][row]) if row is not None else "–"}
                        for m in shown
                    ],
                    "src": player["src"],
                    "error": short(error) if error else "",
                }
            )
        out.setdefault(req.dataset, []).append(
            {
                "clip_id": req.clip_id,
                "info": info,
                "original": original,
                "metrics": shown,
                "points": points,
            }
        )
    return out


def _player(out_dir: Path, path: str | os.PathLike[str] | None) -> dict[str, Any]:
    if path is None:
        return {"src": None, "error": "not rendered"}
    url = relative_url(out_dir, path)
    if not (out_dir / urllib.parse.unquote(url)).is_file():
        return {"src": None, "error": f"file missing: {urllib.parse.unquote(url)}"}
    return {"src": url, "error": ""}


# -- run metadata ------------------------------------------------------------------------------


def _first(meta: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value: Any = meta
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                value = None
                break
            value = value[part]
        if value not in (None, "", [], {}):
            return value
    return None


def command_text(meta: Mapping[str, Any]) -> str:
    """The run's command line as one string (a list is shell-quoted)."""
    command = _first(meta, "command", "command_line", "argv", "cmd")
    if isinstance(command, (list, tuple)):
        return shlex.join(str(part) for part in command)
    return "" if command is None else str(command)


def meta_headline(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) pairs for the page header, from whichever run.json keys are present."""
    fields = [
        ("started", _first(meta, "started_at", "started", "start_time", "timestamp", "date")),
        ("command", command_text(meta)),
        ("commit", _first(meta, "commit", "git_commit", "git.commit", "code.commit")),
        (
            "suite",
            _first(meta, "suite_version", "versions.namc-bench", "versions.bench", "version"),
        ),
        (
            "machine",
            _first(meta, "machine.hostname", "machine.node", "machine.platform", "machine"),
        ),
        ("wall time", _first(meta, "timings.wall_s", "timings.total_s", "wall_s", "elapsed_s")),
        ("status", _first(meta, "status")),
    ]
    out = []
    for label, value in fields:
        if value is None or value == "":
            continue
        if isinstance(value, float):
            value = f"{value:.1f} s" if label == "wall time" else f"{value:g}"
        elif isinstance(value, (Mapping, list, tuple)):
            value = short(value, 200)
        out.append((label, str(value)))
    return out


def meta_tree(value: Any, depth: int = 0) -> Any:
    """``value`` as nested (kind, content) pairs the template renders recursively; scalars
    become strings, depth is capped so a pathological run.json cannot blow up the page."""
    if depth > 8:
        return ("scalar", short(value, 200))
    if isinstance(value, Mapping):
        return ("map", [(str(k), meta_tree(v, depth + 1)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (Mapping, list, tuple)) for v in value):
            return ("scalar", ", ".join(str(v) for v in value))
        return ("list", [meta_tree(v, depth + 1) for v in value])
    return ("scalar", "" if value is None else str(value))
