"""``python -m bench mushra-analyse ANSWERS...``: analyse a MUSHRA listening test's answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "analyse MUSHRA answers: post-screening, statistics, agreement with the metrics"

DESCRIPTION = """\
Read the answers files the listening page downloads (mushra-<listener>-<seed>.csv or .json,
one session each; several files = several listeners), check them against the test's key.json,
and write the analysis.

Checks (each an error, exit status 2): an unknown trial or stimulus, a stimulus rated on the
wrong trial or twice, a rating outside 0..100, a trial rated only in part, a listener who skipped
whole trials (unless --allow-partial), the same listener in two sessions (unless --allow-repeat:
ratings averaged per stimulus). The same session as both CSV and JSON is read once.

Post-screening, ITU-R BS.1534-3 section 4.1.2: a listener is excluded who rates the hidden
reference below 90 on more than 15 % of the items, or the mid anchor (7 kHz low-pass) above 90
on more than 15 % of the items; an item on which more than 25 % of the listeners rate the mid
anchor above 90 is not held against anyone. --no-screening keeps everybody (and says so).

Statistics on the kept listeners: per condition and per (condition, item) N, mean with 95 % CI
(Student's t), median and IQR (the recommendation's quartiles), difference to the hidden
reference; Wilcoxon signed-rank tests between every pair of conditions on paired ratings,
Holm-corrected. Agreement: Pearson (95 % CI, p) and Spearman (p) correlation of the MUSHRA
mean per stimulus with each objective metric in key.json on the same stimuli, codec conditions
only unless --agreement all; stimuli without a finite metric value are left out and counted.

Output (--out, default: an "analysis" folder beside key.json): screening.csv, conditions.csv,
condition_items.csv, paired_tests.csv, agreement.csv, stimuli.csv, ratings.csv, plots/*.svg,
section.json and mushra.html (a static page). --report RUN_DIR writes into
RUN_DIR/mushra/analysis/ instead (beside the test `mushra RUN_DIR` builds by default) and adds
a "Listening test" section to RUN_DIR/index.html, kept on later writes of the report.

Exit status: 0 analysed, 2 unreadable or inconsistent input."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("answers", metavar="ANSWERS", nargs="+", help="answers files (.csv/.json)")
    parser.add_argument(
        "--key",
        metavar="KEY",
        default=None,
        help="the test's key.json (default: the key.json beside the answers or one folder up)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out", metavar="DIR", default=None, help="output folder (default: KEY's folder/analysis)"
    )
    where.add_argument(
        "--report",
        metavar="RUN_DIR",
        default=None,
        help="write into RUN_DIR/mushra/analysis/ and add the section to RUN_DIR/index.html",
    )
    parser.add_argument(
        "--no-screening",
        action="store_true",
        help="keep every listener (post-screening computed and shown, not applied)",
    )
    parser.add_argument(
        "--agreement",
        choices=("codecs", "all"),
        default="codecs",
        help="stimuli in the metric correlations: codec conditions only (default) or all, "
        "hidden reference and anchors included",
    )
    parser.add_argument(
        "--allow-repeat",
        action="store_true",
        help="accept a listener in several sessions (ratings averaged per stimulus)",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept listeners who did not rate every trial",
    )


def main(args: argparse.Namespace) -> int:
    """Analyse the answers and write the tables, plots and pages."""
    from bench.errors import BenchError
    from bench.mushra.answers import find_key, load_key, load_ratings
    from bench.mushra.report import (
        RUN_SUBDIR,
        analyse,
        embed_in_report,
        text_summary,
        write_analysis,
    )

    key_path = Path(args.key) if args.key else find_key(args.answers)
    key = load_key(key_path)
    if args.report is not None:
        run_dir = Path(args.report)
        if not run_dir.is_dir():
            raise BenchError(f"--report {run_dir}: not a folder")
        out = run_dir / RUN_SUBDIR
    else:
        out = Path(args.out) if args.out else key_path.parent / "analysis"
    ratings = load_ratings(
        key, args.answers, allow_repeat=args.allow_repeat, allow_partial=args.allow_partial
    )
    analysis = analyse(key, ratings, screening=not args.no_screening, agreement_set=args.agreement)
    try:
        page = write_analysis(out, analysis, key)
    except OSError as exc:  # e.g. a read-only folder or a full disk: nothing half-written
        raise BenchError(f"cannot write the analysis to {out}: {exc.strerror or exc}") from None
    for line in text_summary(analysis):
        print(line)
    print(f"wrote {out} (page: {page})")
    if args.report is not None:
        if embed_in_report(run_dir):
            print(f"added the listening-test section to {run_dir / 'index.html'}")
        else:
            print(
                f"note: {run_dir / 'index.html'} has no listening-test markers (missing or "
                "written by an older version); the section appears the next time the run's "
                f"report is written; until then see {page}",
                file=sys.stderr,
            )
    return 0
