"""``python -m bench list``: every codec (with availability), dataset kind and metric."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "list codecs (with availability), dataset kinds and metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``list``."""
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")


def collect() -> dict[str, Any]:
    """Everything ``list`` shows, as plain data."""
    from bench.codecs import all_codecs, plugin_errors

    listing: dict[str, Any] = {
        "codecs": [codec.info() for codec in all_codecs().values()],
        "codec_load_errors": plugin_errors(),
    }
    from bench.datasets import describe_kinds
    from bench.metrics import all_metrics

    listing["datasets"] = [{"name": n, "description": d} for n, d in describe_kinds()]
    listing["metrics"] = [
        {
            "name": m.name,
            "unit": m.unit or "-",
            "rate": m.rate or "input's",
            "domain": m.domain,
            "better": "higher" if m.higher_is_better else "lower",
            "reference_free": not m.intrusive,
            "default": m.default,
            "description": m.description,
        }
        for m in all_metrics().values()
    ]
    return listing


def _bitrates(info: dict[str, Any]) -> str:
    ladder = [k for k in info["ladder"] if k is not None]
    return "lossless" if not ladder else ",".join(f"{k:g}" for k in ladder)


def print_listing(listing: dict[str, Any], out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    """Human-readable listing."""
    print("Codecs ('all' = every available codec marked *):", file=out)
    for info in listing["codecs"]:
        mark = "*" if info["available"] and info["primary"] else " "
        state = "ok" if info["available"] else f"UNAVAILABLE: {info['reason']}"
        print(
            f" {mark} {info['name']:<12} {info['backend']:<11} {info['domain']:<8} "
            f"ladder {_bitrates(info):<28} {state}",
            file=out,
        )
        print(f"     {info['description']}; accepts {info['bitrates']}", file=out)
    for path, error in listing.get("codec_load_errors", {}).items():
        print(f"   (failed to load {path}: {error})", file=out)
    print("\nDatasets (--datasets KIND[=PATH]):", file=out)
    for entry in listing["datasets"]:
        print(f"   {entry['name']:<14} {entry['description']}", file=out)
    print("\nMetrics (default: every metric that applies to the dataset's content):", file=out)
    for m in listing["metrics"]:
        print(
            f"   {m['name']:<14} {m['domain']:<7} {m['better']:>6} is better, "
            f"unit {m['unit']}, at {m['rate']} Hz"
            + (", no reference" if m.get("reference_free") else "")
            + ("" if m.get("default", True) else ", only when named"),
            file=out,
        )
        if m["description"]:
            print(f"     {m['description']}", file=out)


def main(args: argparse.Namespace) -> int:
    """Print the listing."""
    listing = collect()
    if args.json:
        print(json.dumps(listing, indent=2, default=str))
    else:
        print_listing(listing)
    return 0
