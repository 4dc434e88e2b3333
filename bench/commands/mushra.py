"""``python -m bench mushra RUN_DIR``: a MUSHRA listening test built from a run."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.argtypes import positive_float, positive_int

HELP = "build a MUSHRA listening test (static page, key, webMUSHRA config) from a run"
DESCRIPTION = """\
Build a MUSHRA listening test (ITU-R BS.1534-3) from a finished run folder.

Conditions: the codecs at named points (--conditions opus:16,mp3:32) or matched to a codec's
measured rate (--match namc[:KBPS]: every other codec of the run at the ladder point nearest
in measured kbps; default: the run's first neural codec at its lowest point). Each trial adds
the hidden reference and two anchors low-pass filtered at 3.5 kHz and 7 kHz (zero phase). At
most 12 signals a trial (reference button + hidden reference + 2 anchors + 8 codecs); more
codecs are split into blocks, each repeating the reference and anchors.

Items: at least max(5, 1.5 x systems) clips of the run on which every condition scored ok,
those the objective metric finds hardest or most discriminating first, one per class /
speaker before any repeats. Excerpts of --seconds (the most energetic window; shorter clips
whole), all signals loudness-aligned (BS.1770-4) with a common gain that avoids clipping,
16-bit WAV.

Writes to --out DIR (default RUN_DIR/mushra): test/ (index.html + audio/: give this folder to
listeners; it opens from disk in any browser, no server, no network), key.json (which stimulus
is which condition; keep it away from listeners) and webmushra/config.yaml. Answers come back as
mushra-<listener>-<seed>.csv/.json; analyse them with `python -m bench mushra-analyse`.

Examples:
  python -m bench mushra reports/2026-01-02_030405
  python -m bench mushra RUN --conditions namc:5.6,opus:6,mp3:16 --items 8 --seed 7
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``mushra``."""
    from bench.datasets import add_dataset_arguments

    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run's output folder")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (default: RUN_DIR/mushra)"
    )
    pick = parser.add_mutually_exclusive_group()
    pick.add_argument("--conditions", metavar="C:K,C:K", help="codec points, e.g. opus:16,mp3:32")
    pick.add_argument(
        "--match",
        metavar="CODEC[:KBPS]",
        help="match every codec to this point (default: the first neural codec)",
    )
    parser.add_argument(
        "--codecs",
        metavar="A,B",
        help="with --match: only these codecs (default: every lossy codec of the run)",
    )
    parser.add_argument(
        "--max-rate-ratio",
        type=positive_float,
        default=2.0,
        metavar="R",
        help="with --match: leave out codecs whose nearest point is more than R times "
        "off (default: %(default)s)",
    )
    parser.add_argument(
        "--items",
        type=positive_int,
        metavar="N",
        help="number of items (default and minimum: max(5, 1.5 x systems))",
    )
    parser.add_argument(
        "--seconds",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="excerpt length (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="design seed: item ties, file names (default: %(default)s)",
    )
    parser.add_argument(
        "--loudness",
        type=float,
        default=-23.0,
        metavar="LUFS",
        help="loudness target, lowered together if any signal would clip (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics",
        metavar="A,B",
        help="objective metrics scored on each stimulus (default: the run's)",
    )
    parser.add_argument(
        "--per-trial",
        type=positive_int,
        default=8,
        metavar="N",
        help="codecs per trial, at most 8 (default: %(default)s)",
    )
    parser.add_argument(
        "--webmushra-prefix",
        default="../test/",
        metavar="P",
        help="prefix of audio paths in webmushra/config.yaml (default: %(default)s)",
    )
    parser.add_argument("--title", default="Listening test", help="page title")
    add_dataset_arguments(parser)
    parser.set_defaults(limit=None)


def main(args: argparse.Namespace) -> int:
    """Build the test; prints where it went."""
    from bench.errors import BenchError
    from bench.mushra.build import BuildOptions, build_test
    from bench.mushra.select import MAX_CODECS_PER_TRIAL, parse_conditions

    if args.per_trial > MAX_CODECS_PER_TRIAL:
        raise BenchError(
            f"--per-trial {args.per_trial}: at most {MAX_CODECS_PER_TRIAL} (12 signals a trial)"
        )
    options = BuildOptions(
        run_dir=args.run_dir,
        out_dir=args.out,
        conditions=parse_conditions(args.conditions) if args.conditions else None,
        match=args.match,
        codecs=[c.strip() for c in args.codecs.split(",") if c.strip()] if args.codecs else None,
        max_rate_ratio=args.max_rate_ratio,
        items=args.items,
        seconds=args.seconds,
        seed=args.seed,
        target_lufs=args.loudness,
        metrics=[m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None,
        datasets=args if args.datasets else None,
        per_trial=args.per_trial,
        webmushra_prefix=args.webmushra_prefix,
        title=args.title,
    )
    key = build_test(options)
    out = Path(args.out) if args.out else Path(args.run_dir) / "mushra"
    print(
        f"{len(key['items'])} items x {key['blocks']} block(s) = {len(key['trials'])} trials, "
        f"{key['signals_per_trial']} signals a trial; loudness "
        f"{key['loudness']['target']:.1f} LUFS "
        f"(common gain {key['loudness']['common_gain_db']:+.1f} dB)"
    )
    print(f"  listening page: {out / 'test' / 'index.html'}")
    print(f"             key: {out / 'key.json'}")
    print(f"       webMUSHRA: {out / 'webmushra' / 'config.yaml'}")
    return 0
