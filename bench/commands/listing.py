"""``python -m bench list``: every codec (with availability), dataset kind and metric."""

from __future__ import annotations

import argparse
import importlib
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
    # Datasets and metrics live in their own packages; list them when this build has them.
    for key, module_name, func in (
        ("datasets", "bench.datasets", "describe_datasets"),
        ("metrics", "bench.metrics", "describe_metrics"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        describe = getattr(module, func, None)
        if describe is not None:
            listing[key] = describe()
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
    for key in ("datasets", "metrics"):
        if key in listing:
            print(f"\n{key.capitalize()}:", file=out)
            for entry in listing[key]:
                name = entry.get("name", "?")
                rest = "; ".join(f"{k}={v}" for k, v in entry.items() if k != "name")
                print(f"   {name:<14} {rest}", file=out)


def main(args: argparse.Namespace) -> int:
    """Print the listing."""
    listing = collect()
    if args.json:
        print(json.dumps(listing, indent=2, default=str))
    else:
        print_listing(listing)
    return 0
