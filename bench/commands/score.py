"""``python -m bench score REF DEG``: score one degraded file against its reference."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

HELP = "score a degraded file against a reference with every metric (JSON on stdout)"

DESCRIPTION = """\
Score DEG against REF with each metric and print one JSON object on stdout.

Files are scored as given: no alignment and no trimming. Each metric mixes to mono or keeps
every channel, and resamples (soxr) to its own rate, as it declares. A DEG at another sample
rate than REF is first resampled to REF's rate; a DEG of another length gives every metric the
reason length_mismatch.

Output (keys in metric order):
  "<metric>": number, or null when the metric could not score the pair;
              "inf"/"-inf" (strings) where the exact value is infinite, e.g. the SNR of
              identical signals
  "reasons":  {"<metric>": "<reason>"} for every null value
              (too_short, silent, no_utterance, length_mismatch, error; a file with
              NaN/inf samples is refused instead, see the exit status)
  "_meta":    {"reference": {...}, "degraded": {...}, "resampler": "soxr ... HQ",
               "domain": ..., "metrics": {"<metric>": {"rate", "channels", "unit",
               "higher_is_better", "domain", "applicable", "version", "detail",
               "reference_free"}}}
            A reference-free metric (DNSMOS: "reference_free": true) scores DEG alone;
            its entry also gives "reference_value", the same metric of REF.

--metrics takes "all" (default) or a comma-separated list of metric names. With --domain,
"all" means the metrics that apply to that content, and explicitly named metrics that do not
apply are computed but marked "applicable": false.

Exit status: 0 scored (even when some values are null), 2 unreadable file, a file with NaN or
inf samples, or an unknown metric name."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("reference", metavar="REF", help="reference audio file")
    parser.add_argument("degraded", metavar="DEG", help="degraded audio file")
    parser.add_argument(
        "--metrics",
        default="all",
        metavar="LIST",
        help="'all' (default) or comma-separated metric names, e.g. snr,pesq_wb",
    )
    parser.add_argument(
        "--domain",
        choices=("speech", "audio"),
        default=None,
        help="content of the files: restricts 'all' to the metrics that apply and marks the "
        "others as not applicable (default: unknown, every metric)",
    )
    parser.add_argument("--indent", type=int, default=2, help="JSON indent (default: 2)")


def _json_value(value: float) -> float | str | None:
    # Strict JSON has no NaN or Infinity: NaN is null (with a reason), +-inf is a string.
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def score_files(
    reference_path: str, degraded_path: str, metrics_spec: str | None, domain: str | None
) -> dict[str, Any]:
    """The command's JSON object for two files (see ``DESCRIPTION``)."""
    from bench.audio import load_audio, resampler_description
    from bench.metrics import prepare_reference, resolve_metrics, score_degraded

    metrics = resolve_metrics(metrics_spec, domain)
    reference = load_audio(reference_path)
    degraded = load_audio(degraded_path)
    degraded_meta: dict[str, Any] = {
        "path": str(degraded_path),
        "rate": degraded.rate,
        "channels": degraded.channels,
        "frames": degraded.frames,
        "resampled_to": None,
    }
    if degraded.rate != reference.rate:
        degraded = degraded.resample(reference.rate)
        degraded_meta["resampled_to"] = reference.rate
    prepared = prepare_reference(metrics, reference, domain)
    results = score_degraded(prepared, degraded)
    rates = prepared.rates()

    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    meta_metrics: dict[str, Any] = {}
    for metric in metrics:
        result = results[metric.name]
        out[metric.name] = _json_value(result.value)
        if out[metric.name] is None:
            reasons[metric.name] = result.reason or "error"
        meta_metrics[metric.name] = {
            "rate": rates[metric.name],
            "channels": metric.channels,
            "unit": metric.unit,
            "higher_is_better": metric.higher_is_better,
            "domain": metric.domain,
            "applicable": result.applicable,
            "version": metric.version(),
            "detail": result.detail,
            "reference_free": not metric.intrusive,
        }
        if not metric.intrusive:
            # What the same model says of the original: the baseline for DEG's value.
            meta_metrics[metric.name]["reference_value"] = _json_value(
                metric.score_signal(reference).value
            )
    out["reasons"] = reasons
    out["_meta"] = {
        "reference": {
            "path": str(reference_path),
            "rate": reference.rate,
            "channels": reference.channels,
            "frames": reference.frames,
        },
        "degraded": degraded_meta,
        "resampler": resampler_description(),
        "domain": domain,
        "metrics": meta_metrics,
    }
    return out


def main(args: argparse.Namespace) -> int:
    """Score the two files and print the JSON object."""
    out = score_files(args.reference, args.degraded, args.metrics, args.domain)
    json.dump(out, sys.stdout, indent=args.indent if args.indent > 0 else None, allow_nan=False)
    sys.stdout.write("\n")
    return 0
