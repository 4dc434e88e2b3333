"""The listening test's analysis written out: CSV tables, SVG plots, an HTML page and section.

:func:`analyse` runs screening, statistics and agreement; :func:`write_analysis` writes

    OUT/screening.csv  conditions.csv  condition_items.csv  paired_tests.csv
    OUT/agreement.csv  stimuli.csv  ratings.csv  plots/mushra-*.svg
    OUT/section.json   the page's view of the numbers (read back by the run report)
    OUT/mushra.html    a standalone static page (no script, no network, relative plots)

every file atomically, the page last. :func:`embed_in_report` puts the same section into a
run's ``index.html`` (between the markers the report template writes), and
:func:`bench.report.html.write_report` shows it on every later write of the report, since it
reads ``RUN_DIR/mushra/analysis/section.json`` when present. Strings from data (listener
names, item and condition labels) only reach HTML through the report's Jinja2 environment with
autoescaping.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench import __version__
from bench.errors import BenchError
from bench.fsutil import atomic_write_text
from bench.mushra import plots
from bench.mushra.agreement import agreement, stimulus_scores
from bench.mushra.answers import Key, Ratings
from bench.mushra.screening import CITATION, Screening, kept, screen, summary_lines
from bench.mushra.stats import ALPHA, paired_tests, per_condition, per_condition_item
from bench.report.view import as_float

#: Folder of a run (``RUN_DIR/<this>``) that ``--report`` writes and the run report reads.
#: ``mushra`` is where ``python -m bench mushra`` puts the test by default (key.json, test/);
#: the analysis goes beside them, as it does by default for any key.
RUN_SUBDIR = "mushra/analysis"
SECTION_FILE = "section.json"
PAGE_FILE = "mushra.html"
SECTION_VERSION = 1

TABLE_FILES = {
    "screening": "screening.csv",
    "conditions": "conditions.csv",
    "condition_items": "condition_items.csv",
    "paired_tests": "paired_tests.csv",
    "agreement": "agreement.csv",
    "stimuli": "stimuli.csv",
    "ratings": "ratings.csv",
}

#: The HTML comments around the section (and its table-of-contents link) in a run's
#: index.html. Data cannot forge them: autoescaping turns any "<" from data into "&lt;".
MARKERS = {
    "listening_toc.html.j2": (
        "<!-- namc-bench:listening-test-toc:begin -->",
        "<!-- namc-bench:listening-test-toc:end -->",
    ),
    "listening_block.html.j2": (
        "<!-- namc-bench:listening-test:begin -->",
        "<!-- namc-bench:listening-test:end -->",
    ),
}

_PLOT_SRC = re.compile(r"^plots/mushra-[a-z]+-[0-9a-f]{12}\.svg$")


@dataclass(frozen=True)
class Analysis:
    """Every table of one analysis."""

    ratings: pd.DataFrame
    kept: pd.DataFrame
    screening: Screening
    conditions: pd.DataFrame
    condition_items: pd.DataFrame
    paired: pd.DataFrame
    scores: pd.DataFrame
    agreement: pd.DataFrame
    agreement_set: str
    notes: list[str]
    listeners: list[str]


def analyse(
    key: Key, ratings: Ratings, *, screening: bool = True, agreement_set: str = "codecs"
) -> Analysis:
    """Screen the listeners, then compute every statistic on the kept ratings."""
    table = ratings.table
    result = screen(table, enabled=screening)
    kept_ratings = kept(table, result)
    listeners = sorted(set(table["listener"].astype(str)))
    if kept_ratings.empty:
        raise BenchError(
            "post-screening excluded every listener ("
            + "; ".join(f"{r.listener}: {r.reason}" for r in result.table.itertuples())
            + "); rerun with --no-screening to look at the ratings anyway"
        )
    scores = stimulus_scores(kept_ratings, key)
    return Analysis(
        ratings=table,
        kept=kept_ratings,
        screening=result,
        conditions=per_condition(kept_ratings, key),
        condition_items=per_condition_item(kept_ratings, key),
        paired=paired_tests(kept_ratings, key),
        scores=scores,
        agreement=agreement(scores, agreement_set),
        agreement_set=agreement_set,
        notes=list(ratings.notes),
        listeners=listeners,
    )


def text_summary(analysis: Analysis) -> list[str]:
    """The lines the command prints: screening, then the per-condition means."""
    lines = summary_lines(analysis.screening, analysis.listeners)
    lines += [f"note: {n}" for n in analysis.notes]
    lines.append("condition                       N   mean  ±CI95  median  IQR")
    for r in analysis.conditions.itertuples():
        lines.append(
            f"{r.label[:28]:<28} {r.n:>4} {_f(r.mean, 1):>6} {_f(r.ci95, 1):>6} "
            f"{_f(r.median, 1):>7} {_f(r.iqr, 1):>5}"
        )
    return lines


# -- the view the templates render ----------------------------------------------------------------


def _f(value: Any, digits: int = 1) -> str:
    x = as_float(value)
    if x is None:
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.{digits}f}"


def _p(value: Any) -> str:
    x = as_float(value)
    if x is None:
        return "–"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def section_view(analysis: Analysis, key: Key, plot_files: list[dict[str, str]]) -> dict[str, Any]:
    """A JSON-serialisable view of the analysis: display strings only (the templates format
    nothing), plot paths relative to the analysis folder."""
    labels = {cid: c.label for cid, c in key.conditions.items()}
    screening_rows = [
        {
            "listener": r.listener,
            "n_items": int(r.n_items),
            "reference": f"{int(r.reference_below_90)} ({_f(100 * r.reference_share, 0)} %)",
            "mid": f"{int(r.mid_anchor_above_90)} ({_f(100 * r.mid_anchor_share, 0)} %)",
            "excluded": bool(r.excluded),
            "reason": r.reason,
        }
        for r in analysis.screening.table.itertuples()
    ]
    conditions = [
        {
            "label": r.label,
            "kind": r.kind,
            "n": int(r.n),
            "listeners": int(r.n_listeners),
            "mean": _f(r.mean),
            "ci": f"{_f(r.ci_low)} – {_f(r.ci_high)}",
            "median": _f(r.median),
            "iqr": f"{_f(r.q1)} – {_f(r.q3)}",
            "diff": (
                f"{_f(r.diff_to_reference)} ± {_f(r.diff_to_reference_ci95)}"
                if not math.isnan(r.diff_to_reference)
                else "–"
            ),
        }
        for r in analysis.conditions.itertuples()
    ]
    pairs = [
        {
            "a": labels.get(r.condition_a, r.condition_a),
            "b": labels.get(r.condition_b, r.condition_b),
            "n": int(r.n_pairs),
            "diff": f"{_f(r.mean_diff)} ± {_f(r.ci95)}",
            "median": _f(r.median_diff),
            "p": _p(r.p),
            "p_holm": _p(r.p_holm),
            "significant": bool(r.significant),
            "note": r.note,
        }
        for r in analysis.paired.itertuples()
    ]
    agreement_rows = [
        {
            "metric": r.metric,
            "n": int(r.n),
            "missing": int(r.n_missing),
            "n_items": int(r.n_items),
            "pearson": _f(r.pearson_r, 2),
            "pearson_ci": f"{_f(r.pearson_ci_low, 2)} – {_f(r.pearson_ci_high, 2)}",
            "pearson_p": _p(r.pearson_p),
            "spearman": _f(r.spearman_rho, 2),
            "spearman_p": _p(r.spearman_p),
            "note": r.note,
        }
        for r in analysis.agreement.itertuples()
    ]
    screening = analysis.screening
    return {
        "version": SECTION_VERSION,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "key": str(key.path),
        "run_id": str(key.meta.get("run_id") or ""),
        "n_listeners": len(analysis.listeners),
        "n_kept": len(analysis.listeners) - len(screening.excluded),
        "n_items": int(analysis.kept["item_id"].nunique()),
        "n_trials": len(key.trials),
        "screening": {
            "applied": screening.applied,
            "citation": CITATION,
            "rules": list(screening.rules),
            "excepted": list(screening.excepted_trials),
            "excluded": list(screening.excluded),
            "rows": screening_rows,
        },
        "conditions": conditions,
        "pairs": pairs,
        "alpha": ALPHA,
        "agreement": {"set": analysis.agreement_set, "rows": agreement_rows},
        "plots": plot_files,
        "tables": dict(TABLE_FILES),
        "notes": list(analysis.notes),
    }


def prefixed(view: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``view`` with its plot and table paths relative to a page ``prefix`` folders up."""
    out = dict(view)
    out["plots"] = [dict(p, src=prefix + p["src"]) for p in view["plots"]]
    out["tables"] = {k: prefix + v for k, v in view["tables"].items()}
    return out


# -- writing -----------------------------------------------------------------------------------


def _write_csv(path: Path, table: pd.DataFrame) -> None:
    from bench.report.html import write_csv

    write_csv(path, table)


def write_plots(out: Path, analysis: Analysis, key: Key) -> list[dict[str, str]]:
    """Write the analysis's SVG plots; returns what the page shows for each."""
    order = [str(c) for c in analysis.conditions["condition_id"]]
    files = [
        {
            "src": plots.write(
                out,
                plots.plot_name("conditions", "all"),
                plots.conditions_svg(analysis.kept, analysis.conditions, key),
            ),
            "alt": "box plot of the ratings per condition with means and 95 % CIs",
            "caption": "Per condition: box Q1–Q3 with median, whiskers 1.5 IQR; "
            "diamond: mean ± 95 % CI.",
        },
        {
            "src": plots.write(
                out,
                plots.plot_name("items", "all"),
                plots.items_svg(analysis.condition_items, key, order),
            ),
            "alt": "mean and 95 % CI of each condition on each item",
            "caption": "Per item: mean ± 95 % CI over the listeners.",
        },
    ]
    for row in analysis.agreement.to_dict("records"):
        if not isinstance(row["pearson_r"], float) or math.isnan(row["pearson_r"]):
            continue
        metric = str(row["metric"])
        files.append(
            {
                "src": plots.write(
                    out,
                    plots.plot_name("scatter", metric),
                    plots.scatter_svg(analysis.scores, metric, row, key, order),
                ),
                "alt": f"MUSHRA mean per stimulus against {metric}",
                "caption": f"MUSHRA mean per stimulus against {metric} (filled: in the "
                "correlation).",
            }
        )
    return files


def write_analysis(out_dir: str | os.PathLike[str], analysis: Analysis, key: Key) -> Path:
    """Write every table, plot, ``section.json`` and ``mushra.html`` into ``out_dir``; returns
    the page's path."""
    from bench.report.html import render

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    tables = {
        "screening": analysis.screening.table,
        "conditions": analysis.conditions,
        "condition_items": analysis.condition_items,
        "paired_tests": analysis.paired,
        "agreement": analysis.agreement,
        "stimuli": analysis.scores,
        "ratings": analysis.ratings.assign(
            kept=~analysis.ratings["listener"].isin(analysis.screening.excluded)
        ),
    }
    for name, table in tables.items():
        _write_csv(out / TABLE_FILES[name], table)
    view = section_view(analysis, key, write_plots(out, analysis, key))
    atomic_write_text(out / SECTION_FILE, json.dumps(view, indent=1, ensure_ascii=False) + "\n")
    page = render(
        "mushra.html.j2",
        title="namc-bench listening test",
        listening=view,
        suite_version=__version__,
    )
    target = out / PAGE_FILE
    atomic_write_text(target, page)
    return target


def load_section(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The listening-test view of ``run_dir/mushra/analysis/section.json`` with paths relative to
    ``run_dir``, or None when there is none (or it is unreadable: the report is not broken
    by a damaged analysis; its plots are only linked when their names are ours)."""
    path = Path(run_dir) / RUN_SUBDIR / SECTION_FILE
    try:
        view = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(view, dict) or view.get("version") != SECTION_VERSION:
        return None
    view["plots"] = [
        p
        for p in view.get("plots", [])
        if isinstance(p, dict) and _PLOT_SRC.match(str(p.get("src", "")))
    ]
    view["tables"] = dict(TABLE_FILES)  # links are ours, never taken from the file
    return prefixed(view, RUN_SUBDIR + "/")


def embed_in_report(run_dir: str | os.PathLike[str]) -> bool:
    """Put the listening-test section into ``run_dir/index.html`` now (atomically). Returns
    False when the page has no markers (written by an older version, or absent); the section
    then appears the next time the report is written."""
    from bench.report.html import render

    page_path = Path(run_dir) / "index.html"
    try:
        page = page_path.read_text(encoding="utf-8")
    except OSError:
        return False
    view = load_section(run_dir)
    if view is None:
        return False
    for template, (begin, end) in MARKERS.items():
        start, stop = page.find(begin), page.find(end)
        if start < 0 or stop < start or page.count(begin) != 1:
            return False
        fragment = render(template, listening=view)
        page = page[:start] + fragment.strip() + page[stop + len(end) :]
    atomic_write_text(page_path, page)
    return True
