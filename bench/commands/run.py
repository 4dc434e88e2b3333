"""``python run_bench.py`` / ``python -m bench run``: the benchmark matrix, stored and reported."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.argtypes import positive_float, positive_int

HELP = "run codecs x bitrates over datasets, score them, write results and the HTML report"
DESCRIPTION = """\
Encode every clip with every codec at every bitrate of its ladder, decode, check the length
and lag, score with every metric that applies to the dataset, and write to --out DIR:
results.csv (one row per dataset, clip, codec, bitrate), summary.csv (means with 95%
confidence intervals), run.json (command, versions, machine, commit, timings) and
index.html (rate-distortion plots, matched-bitrate and BD-rate tables, failures, listening
examples); reports/index.html lists every run.

Every result is stored in a results cache (SQLite, --cache) keyed by clip content, codec,
bitrate and code versions: an interrupted run (Ctrl-C, kill -9, power cut) started again
computes only what is missing, and adding a codec or a metric costs only that work.

With no --datasets, the corpora found under --data-root are used, or the built-in synthetic
demo set when there are none.

Examples:
  python run_bench.py --codecs all
  python run_bench.py --codecs opus,mp3,namc --datasets esc50=../ESC-50-master --limit 20
  python run_bench.py --codecs all --datasets librispeech:test-clean --metrics pesq_wb,stoi
  python run_bench.py --codecs all --executor dask --scheduler tcp://10.0.0.5:8786

Exit status: 0 finished (failed clips are reported in the results); 1 finished with
failures and --strict; 2 bad options or input; 130 interrupted.
"""


def _bitrates(text: str) -> list[float]:
    """``K1,K2,...``: one or more positive numbers."""
    values = [positive_float(part.strip()) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("no bitrate given")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``run``."""
    from bench.datasets import add_dataset_arguments

    parser.add_argument(
        "--list", action="store_true", help="list codecs, datasets and metrics, then exit"
    )
    parser.add_argument(
        "--codecs",
        default="all",
        metavar="all|A,B",
        help="'all' (every available codec; see --list) or a comma-separated list (default: all)",
    )
    parser.add_argument(
        "--bitrates",
        type=_bitrates,
        metavar="K1,K2",
        help="target bitrates in kbps for every codec, instead of each codec's own ladder; "
        "values a codec cannot do are skipped with a note (lossless codecs ignore this)",
    )
    parser.add_argument(
        "--metrics",
        metavar="A,B",
        help="metrics to compute (default: every metric that applies to each dataset's content)",
    )
    add_dataset_arguments(parser)
    group = parser.add_argument_group("execution")
    group.add_argument(
        "--jobs", type=positive_int, default=0, metavar="N",
        help="worker processes (default: all cores)",
    )  # fmt: skip
    group.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="local worker processes (default) or a Dask cluster")  # fmt: skip
    group.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="Dask scheduler address (default with --executor dask: a LocalCluster)",
    )  # fmt: skip
    group.add_argument(
        "--timeout", type=positive_float, metavar="S",
        help="seconds one codec point may take before its worker is stopped (default 300)",
    )  # fmt: skip
    group.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: reports/<timestamp>)"
    )
    group.add_argument(
        "--cache", type=Path, metavar="FILE",
        help="results store (default: reports/cache.sqlite)",
    )  # fmt: skip
    group.add_argument(
        "--fresh", action="store_true", help="recompute everything (results are still stored)"
    )
    group.add_argument(
        "--examples", type=int, default=2, metavar="N",
        help="listening examples per dataset in the report (default 2; 0 for none)",
    )  # fmt: skip
    group.add_argument(
        "--no-report", action="store_true", help="write the CSV and JSON files but no HTML"
    )
    group.add_argument(
        "--strict", action="store_true", help="exit with status 1 when any point failed"
    )


def main(args: argparse.Namespace) -> int:
    """Run the benchmark."""
    from bench.commands.listing import collect, print_listing

    if args.list:
        print_listing(collect())
        return 0
    from bench.datasets import clips_from_args
    from bench.runner import RunOptions, run_benchmark
    from bench.summary import print_summary

    clips = clips_from_args(args)
    options = RunOptions(
        codecs=args.codecs,
        bitrates=args.bitrates,
        metrics=args.metrics,
        jobs=args.jobs,
        executor=args.executor,
        scheduler=args.scheduler,
        out=args.out,
        cache=args.cache,
        timeout_s=args.timeout,
        strict=args.strict,
        examples=max(0, args.examples),
        fresh=args.fresh,
        report=not args.no_report,
        command=sys.argv,
    )
    outcome = run_benchmark(clips, options)
    print_summary(outcome)
    return outcome.exit_status
