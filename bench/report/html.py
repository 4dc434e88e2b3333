"""The static HTML report of one run (``DIR/index.html``) and the list of runs
(``reports/index.html``).

The page is self-contained: inline CSS, no script, no web font, no network; plots are SVG files
in ``DIR/plots/`` and listening examples WAV files in ``DIR/examples/``, both referenced by
relative URLs, so the folder opens from disk or any static file host. Every string from data
(clip ids, codec and dataset names, error messages, run metadata) goes through Jinja2 with
autoescaping on; no HTML is ever built by concatenating data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from bench import __version__
from bench.fsutil import atomic_write_text
from bench.report.examples import RenderedExample
from bench.report.info import MetricInfo
from bench.report.matching import (
    BD_MIN_POINTS,
    bd_rate_table,
    matched_quality_table,
    matched_rate_table,
    rd_points,
)
from bench.report.plots import write_rd_plots
from bench.report.summary import summarize
from bench.report.table import (
    check_results,
    dataset_domains,
    metric_columns,
    neural_codecs,
    row_groups,
    synthetic_datasets,
)
from bench.report.view import (
    bd_view,
    command_text,
    examples_view,
    failures_view,
    glance,
    matched_quality_view,
    matched_rate_view,
    meta_headline,
    meta_tree,
    summary_view,
)

_TEMPLATES = Path(__file__).with_name("templates")

#: Analysis tables written beside index.html (the page shows the same numbers).
TABLE_FILES = {
    "matched_quality": "matched_quality.csv",
    "matched_rate": "matched_rate.csv",
    "bd_rate": "bd_rate.csv",
}


#: The Environment's options that shape the compiled code (part of the user cache's key).
_ENV_OPTIONS: dict[str, Any] = {
    "autoescape": True,  # every {{ }} is escaped; nothing in the templates uses |safe
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


def user_cache_dir() -> Path:
    """The per-user cache folder, ``$XDG_CACHE_HOME/namc-bench`` (default ``~/.cache``; a
    relative ``XDG_CACHE_HOME`` is ignored, as the XDG spec says)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "namc-bench"


def _user_templates_dir() -> str | None:
    """The user cache's folder for compiled templates, keyed by Jinja2's version and the
    options above (Jinja2's own check covers the template source and its bytecode format, not
    the code a newer Jinja2 or other options would generate); ``None`` when it cannot be made."""
    import hashlib

    import jinja2

    key = hashlib.sha256(repr(sorted(_ENV_OPTIONS.items())).encode()).hexdigest()[:12]
    folder = user_cache_dir() / "templates" / f"jinja2-{jinja2.__version__}-{key}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home, no home: render without the cache
        return None
    return str(folder)


def _bytecode_cache(folders: tuple[str, ...]) -> Any:
    """Jinja2's file bytecode cache over ``folders``: a template is loaded from the first that
    holds it (each entry checked against the template's source checksum and Jinja2's bytecode
    magic) and written to the folders before it, or compiled and written to every one; a
    folder that cannot be read or written is skipped (a cache is never an error)."""
    import jinja2

    caches = [jinja2.FileSystemBytecodeCache(folder) for folder in folders]

    class Layered(jinja2.BytecodeCache):
        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            for i, cache in enumerate(caches):
                try:
                    cache.load_bytecode(bucket)
                except Exception:  # unreadable or damaged: as if absent
                    bucket.reset()
                if bucket.code is not None:
                    for missed in caches[:i]:  # so every folder holds what was used
                        with contextlib.suppress(OSError):
                            missed.dump_bytecode(bucket)
                    return

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            for cache in caches:
                # Unwritable, disk full: the next run compiles again.
                with contextlib.suppress(OSError):
                    cache.dump_bytecode(bucket)

    return Layered()


@lru_cache(maxsize=8)
def _environment(cache_dir: str | None = None, user_dir: str | None = None) -> Any:
    """The templates' environment; compiled templates are kept in ``cache_dir`` (the files
    cache next to the results store) and ``user_dir`` (the per-user cache, so a run with a new
    store does not compile them again either: 0.07-0.13 s), through Jinja2's own bytecode cache
    (checked against each template's source and Jinja2's bytecode version, written
    atomically)."""
    import jinja2

    folders = tuple(folder for folder in (cache_dir, user_dir) if folder)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        bytecode_cache=_bytecode_cache(folders) if folders else None,
        undefined=jinja2.StrictUndefined,
        **_ENV_OPTIONS,
    )
    return env


#: The templates a run's page is made of (``report.html.j2`` and what it includes).
REPORT_TEMPLATES = (
    "report.html.j2",
    "style.css.j2",
    "listening_toc.html.j2",
    "listening_block.html.j2",
    "mushra_section.html.j2",
)


def _templates_cache(cache_dir: str | os.PathLike[str] | None) -> str | None:
    """Where :func:`write_report` keeps compiled templates for ``cache_dir`` (made here)."""
    if cache_dir is None:
        return None
    templates = Path(cache_dir) / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    return str(templates)


def warm_up(cache_dir: str | os.PathLike[str] | None = None) -> None:
    """Do now what :func:`write_report` with this ``cache_dir`` would do first: import Jinja2
    and the listening-test section's module, and load the page's compiled templates into the
    environment (the runner calls this in a thread while its workers compute)."""
    import bench.mushra.report  # noqa: F401  (write_report's listening section)

    environment = _environment(_templates_cache(cache_dir), _user_templates_dir())
    for name in REPORT_TEMPLATES:
        environment.get_template(name)


def render(template: str, _cache_dir: str | None = None, **context: Any) -> str:
    """Render one of the report templates with autoescaping (compiled templates kept in
    ``_cache_dir`` when given, and in the per-user cache)."""
    environment = _environment(_cache_dir, _user_templates_dir())
    return str(environment.get_template(template).render(**context))


def write_csv(path: str | os.PathLike[str], table: pd.DataFrame) -> None:
    """Write ``table`` as CSV atomically (NaN as an empty cell, floats with full precision)."""
    atomic_write_text(path, table.to_csv(index=False, float_format="%.10g"))


def _split(table: pd.DataFrame, column: str, keys: Iterable[str]) -> dict[str, pd.DataFrame]:
    """key -> the rows of ``table`` whose ``column`` (as text) is that key, in table order (no
    rows: an empty slice). One pass, instead of a boolean filter of the table per key."""
    groups = row_groups(table[column].astype(str).to_numpy())
    out = {}
    for key in keys:
        index = groups.get((key,))
        out[key] = table.iloc[:0] if index is None else table.iloc[index]
    return out


def write_report(
    out_dir: str | os.PathLike[str],
    results: pd.DataFrame,
    summary: pd.DataFrame | None,
    metrics: Mapping[str, MetricInfo],
    run_meta: Mapping[str, Any],
    examples: Iterable[RenderedExample] = (),
    *,
    min_points: int = BD_MIN_POINTS,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` for one run and return its path.

    Also writes ``out_dir/plots/*.svg`` (one rate-distortion plot per dataset and applicable
    metric) and the analysis tables ``matched_quality.csv``, ``matched_rate.csv`` and
    ``bd_rate.csv``. ``summary`` is :func:`~bench.report.summary.summarize`'s table (computed
    when ``None``); ``run_meta`` is what run.json holds; ``examples`` are the listening examples
    the runner rendered for :func:`~bench.report.examples.select_examples`; ``cache_dir``
    keeps drawn plots (and compiled templates, in ``templates/``) for later runs. Every file is
    written atomically; the page last, so an index.html never points at missing plots.
    """
    check_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results, metrics) if summary is None else summary
    names = metric_columns(results, metrics)
    neural = neural_codecs(results)
    points = rd_points(results, metrics)
    matched = matched_quality_table(results, metrics, points)
    rates = matched_rate_table(results, metrics, points)
    bd = bd_rate_table(results, metrics, points, min_points=min_points)
    for key, table in (("matched_quality", matched), ("matched_rate", rates), ("bd_rate", bd)):
        write_csv(out / TABLE_FILES[key], table)
    codecs = sorted(set(results["codec"].astype(str)))
    plots = write_rd_plots(out, points, metrics, codecs, neural, cache_dir)
    examples_by_dataset = examples_view(out, examples, results, names)

    domains = dataset_domains(results)
    synthetic = synthetic_datasets(results)
    datasets = []
    wanted = sorted(domains)
    results_of, summary_of, matched_of, rates_of, bd_of = (
        _split(table, "dataset", wanted) for table in (results, summary, matched, rates, bd)
    )
    for dataset in wanted:
        rows = results_of[dataset]
        domain = domains[dataset]
        applicable = [m for m in names if metrics[m].applies_to(domain)]
        left_out = [m for m in names if m not in applicable]
        plotted = [p for p in plots if p.dataset == dataset]
        no_data = [m for m in applicable if m not in {p.metric for p in plotted}]
        m_part, r_part = matched_of[dataset], rates_of[dataset]
        bd_of_metric = _split(bd_of[dataset], "metric", applicable)
        datasets.append(
            {
                "name": dataset,
                "anchor": f"ds{len(datasets)}",
                "domain": domain or "unknown",
                "synthetic": dataset in synthetic,
                "n_clips": int(rows["clip_id"].nunique()),
                "codecs": sorted(set(rows["codec"].astype(str))),
                "left_out": left_out,
                "no_data": no_data,
                "plots": [
                    {"metric": metrics[p.metric], "src": urllib.parse.quote(p.path)}
                    for p in plotted
                ],
                "glance": glance(m_part, metrics, applicable),
                "matched": matched_quality_view(m_part, metrics, applicable),
                "rates": matched_rate_view(r_part, metrics, applicable),
                "bd": [
                    bd_view(bd_of_metric[m], metrics[m]) for m in applicable if len(bd_of_metric[m])
                ],
                "summary": summary_view(summary_of[dataset], applicable, neural),
                "failures": failures_view(rows, applicable),
                "examples": examples_by_dataset.get(dataset, []),
            }
        )
    # A listening test analysed into this folder (mushra-analyse --report) shows as a section.
    from bench.mushra.report import load_section

    page = render(
        "report.html.j2",
        _templates_cache(cache_dir),
        title="namc-bench report",
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        suite_version=__version__,
        headline=meta_headline(run_meta),
        meta=meta_tree(dict(run_meta)),
        datasets=datasets,
        synthetic=synthetic,
        neural=sorted(neural),
        codecs=codecs,
        metrics=[metrics[m] for m in names],
        reference_free={m for m in names if metrics[m].reference_free},
        min_points=min_points,
        table_files=TABLE_FILES,
        listening=load_section(out),
    )
    target = out / "index.html"
    atomic_write_text(target, page)
    return target


# -- the list of runs --------------------------------------------------------------------------


def _names(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(str(k) for k in value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v.get("name", v)) if isinstance(v, Mapping) else str(v) for v in value)
    return "" if value is None else str(value)


def _parse_time(value: Any) -> dt.datetime | None:
    """A run's start time from an ISO 8601 string or a Unix timestamp, as aware UTC."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            when = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
        else:
            when = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    if when.tzinfo is None:  # a naive time cannot be placed; read it as UTC
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


#: Largest run.json the runs list reads.
MAX_RUN_JSON = 16 * 2**20


def _run_entry(folder: Path) -> dict[str, Any]:
    """What the runs list shows for one run folder (problems are shown, not hidden)."""
    entry: dict[str, Any] = {
        "name": folder.name,
        "href": urllib.parse.quote(folder.name) + "/index.html",
        "has_page": (folder / "index.html").is_file(),
        "started": "",
        "command": "",
        "datasets": "",
        "codecs": "",
        "status": "",
        "problem": "",
        "sort": dt.datetime.fromtimestamp(folder.stat().st_mtime, dt.timezone.utc).isoformat(),
    }
    try:
        with (folder / "run.json").open("rb") as handle:
            raw = handle.read(MAX_RUN_JSON + 1)
        if len(raw) > MAX_RUN_JSON:  # ours are a few kB; never load a huge file for a list
            raise ValueError(f"larger than {MAX_RUN_JSON // 2**20} MiB")
        meta = json.loads(raw.decode("utf-8"))
        if not isinstance(meta, Mapping):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: [[[[... nesting
        entry["problem"] = f"unreadable run.json: {exc}"
        entry["status"] = "unknown"
        return entry
    keys = ("started_at", "started", "start_time", "timestamp", "date")
    started = next((meta[k] for k in keys if meta.get(k)), None)
    when = _parse_time(started)
    if when is not None:
        entry["started"] = when.strftime("%Y-%m-%d %H:%M:%S UTC")
        entry["sort"] = when.isoformat()
    elif started:
        entry["started"] = str(started)
    entry["command"] = command_text(meta)
    entry["datasets"] = _names(meta.get("datasets"))
    entry["codecs"] = _names(meta.get("codecs"))
    status = meta.get("status")
    if not status:
        status = "finished" if entry["has_page"] else "incomplete (no index.html)"
    entry["status"] = str(status)
    return entry


def update_index(reports_root: str | os.PathLike[str]) -> Path:
    """Write ``reports_root/index.html`` listing every run folder holding a run.json, newest
    first (by run.json's start time, else the folder's modification time); atomic."""
    root = Path(reports_root)
    root.mkdir(parents=True, exist_ok=True)
    runs = [
        _run_entry(folder)
        for folder in sorted(root.iterdir())
        if folder.is_dir() and not folder.name.startswith(".") and (folder / "run.json").exists()
    ]
    runs.sort(key=lambda e: (e["sort"], e["name"]), reverse=True)
    page = render(
        "index.html.j2",
        title="namc-bench runs",
        runs=runs,
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        suite_version=__version__,
    )
    target = root / "index.html"
    atomic_write_text(target, page)
    return target
