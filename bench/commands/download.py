"""``python -m bench download``: fetch ESC-50 or LibriSpeech subsets, verified and resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "download ESC-50 or LibriSpeech subsets (checksum-verified, resumable)"

DESCRIPTION = """\
Download the official archives into --data-root (default: datasets/), verify their SHA-256
against pinned values, extract them safely and install them where `run --datasets esc50` and
`--datasets librispeech` look:

  esc50                  ESC-50, GitHub archive of commit 33c8ce9 (646 MB)
                         -> DATA_ROOT/ESC-50-master/
  librispeech            same as librispeech:test-clean
  librispeech:SUBSET     OpenSLR resources/12 tarball -> DATA_ROOT/LibriSpeech/SUBSET/
                         SUBSET: dev-clean (337 MB), dev-other (314 MB), test-clean (346 MB),
                         test-other (328 MB), train-clean-100 (6.3 GB), train-clean-360 (23 GB),
                         train-other-500 (30 GB)

An interrupted transfer resumes from DATA_ROOT/.downloads/*.part (HTTP Range). A checksum
mismatch deletes the download and installs nothing. A dataset is installed by one rename after
extraction and carries a .bench-download.json marker; running the command again does nothing.
--url fetches the same archive from a mirror (or a local file); --sha256 accepts other bytes
(for example after GitHub regenerated its archive), which you should only do for a copy you
have checked some other way.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``download``."""
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="TARGET",
        help="esc50, librispeech or librispeech:SUBSET (several allowed)",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path("datasets"),
        metavar="DIR",
        help="folder the datasets are installed in (default: %(default)s)",
    )
    parser.add_argument(
        "--url", metavar="URL", help="mirror URL or local archive path (one target only)"
    )
    parser.add_argument(
        "--sha256",
        metavar="HEX",
        help="accept an archive with this SHA-256 instead of the pinned one (one target only)",
    )
    parser.add_argument(
        "--keep-archive",
        action="store_true",
        help="keep the verified archive in DATA_ROOT/.downloads/ after extraction",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=5,
        metavar="N",
        help="consecutive failed attempts (each resumes) before giving up (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds without data before an attempt fails (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Download every target; print where each one is."""
    from bench.datasets.download import download_dataset
    from bench.errors import BenchError

    if (args.url or args.sha256) and len(args.targets) > 1:
        raise BenchError("--url and --sha256 apply to a single target; download one at a time")
    if args.retries < 0:
        raise BenchError(f"--retries must be 0 or more, got {args.retries}")
    if not args.timeout > 0:
        raise BenchError(f"--timeout must be positive, got {args.timeout}")
    for target in dict.fromkeys(args.targets):
        result = download_dataset(
            target,
            args.data_root,
            url=args.url,
            sha256=args.sha256,
            keep_archive=args.keep_archive,
            progress=False if args.no_progress else None,
            retries=args.retries,
            timeout=args.timeout,
        )
        print(f"{result.target}\t{result.status}\t{result.path}", file=sys.stdout)
    return 0
