"""Analysis of a results table and the static HTML report.

Pure functions over the results table (one row per dataset, clip, codec, target bitrate; the
columns of ``results.csv``) plus the page writer. The runner calls, at the end of a run::

    summary = summarize(results, metrics)                       # -> summary.csv
    requests = select_examples(results, per_dataset=2)          # copy or decode these, write WAVs
    ...                                                         #   at example_path(...)
    write_report(out_dir, results, summary, metrics, run_meta, rendered)  # -> index.html
    update_index(reports_root)                                  # -> reports/index.html

Matplotlib, SciPy and Jinja2 are imported inside the functions that need them.
"""

from bench.report.examples import (
    ExamplePoint,
    ExampleRequest,
    RenderedExample,
    example_path,
    select_examples,
)
from bench.report.html import update_index, write_csv, write_report
from bench.report.info import MetricInfo
from bench.report.matching import (
    BD_MIN_POINTS,
    BDRate,
    Interpolated,
    bd_rate,
    bd_rate_table,
    frontier,
    interpolate_quality,
    matched_quality_table,
    matched_rate_table,
    rd_points,
    required_kbps,
)
from bench.report.summary import ci95_halfwidth, summarize

__all__ = [
    "BD_MIN_POINTS",
    "BDRate",
    "ExamplePoint",
    "ExampleRequest",
    "Interpolated",
    "MetricInfo",
    "RenderedExample",
    "bd_rate",
    "bd_rate_table",
    "ci95_halfwidth",
    "example_path",
    "frontier",
    "interpolate_quality",
    "matched_quality_table",
    "matched_rate_table",
    "rd_points",
    "required_kbps",
    "select_examples",
    "summarize",
    "update_index",
    "write_csv",
    "write_report",
]
