"""``python -m bench weights``: every neural codec, where it looks for its weights, and whether
it found them (nothing is downloaded)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "list the neural codecs' weights: where each looks and whether it found them"
DESCRIPTION = """\
List every neural codec (NAMC and the neural peers), the places its weights are looked for, in
order, and whether they were found. Weights are never downloaded; a peer looks at
$BENCH_WEIGHTS_<NAME> (a checkpoint folder or file), then $BENCH_WEIGHTS_DIR/<repo name>
(default ~/.cache/namc-bench/weights/), then the Hugging Face cache ($HF_HUB_CACHE, else
$HF_HOME/hub, else ~/.cache/huggingface/hub)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``weights``."""
    parser.add_argument("--json", action="store_true", help="print one JSON list instead")


def _namc_row(codec: Any) -> dict[str, Any]:
    from bench.namc.weights import WEIGHTS_DIR

    ok, reason = codec.availability()
    points = sorted(p.stem for p in WEIGHTS_DIR.glob("*.npz"))
    return {
        "codec": codec.name,
        "checkpoint": "shipped with the suite: " + (", ".join(points) or "none"),
        "found": str(WEIGHTS_DIR) if ok else None,
        "looked_in": [str(WEIGHTS_DIR)],
        "override": None,
        "how_to_get": ""
        if ok
        else "retrain with `python -m bench train-namc` or restore bench/namc/weights/ from git",
        "available": ok,
        "reason": reason,
    }


def collect() -> list[dict[str, Any]]:
    """One row per neural codec."""
    from bench.codecs import all_codecs

    rows = []
    for codec in all_codecs().values():
        if not codec.neural:
            continue
        ok, reason = codec.availability()
        locate = getattr(codec, "locate_weights", None)
        if locate is not None:
            located = locate()
            source = located.source
            rows.append(
                {
                    "codec": codec.name,
                    "checkpoint": source.repo,
                    "found": str(located.path) if located.path else None,
                    "looked_in": list(located.looked),
                    "override": source.env_var,
                    "how_to_get": "" if located.found else source.how_to_get(),
                    "available": ok,
                    "reason": reason,
                }
            )
        elif codec.name.startswith("namc"):
            rows.append(_namc_row(codec))
        else:  # a neural plug-in that does not say where its weights are
            rows.append(
                {
                    "codec": codec.name, "checkpoint": None, "found": None, "looked_in": [],
                    "override": None, "how_to_get": "", "available": ok, "reason": reason,
                }
            )  # fmt: skip
    return rows


def print_rows(rows: list[dict[str, Any]], out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    """Human-readable listing."""
    for row in rows:
        state = "found" if row["found"] else "NOT FOUND"
        usable = "available" if row["available"] else "unavailable"
        print(f"{row['codec']:<14} {row['checkpoint']}: weights {state}, {usable}", file=out)
        if row["found"]:
            print(f"    at {row['found']}", file=out)
        else:
            for place in row["looked_in"]:
                print(f"    looked in {place}", file=out)
            if row["how_to_get"]:
                print(f"    to get them: {row['how_to_get']}", file=out)
        if row["found"] and not row["available"]:
            print(f"    but: {row['reason']}", file=out)
        if row["override"]:
            print(f"    override: {row['override']}=FOLDER", file=out)


def main(args: argparse.Namespace) -> int:
    """Print the listing."""
    rows = collect()
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        print_rows(rows)
    return 0
