"""``python -m bench score REF DEG``: score one degraded file against its reference."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily at run time, so --help stays fast
    from bench.audio import Audio
    from bench.metrics import MetricResult

HELP = "score a degraded file against a reference with every metric (JSON on stdout)"

DESCRIPTION = """\
Score DEG against REF with each metric and print one JSON object on stdout.

Files are scored as given: no alignment and no trimming, unless --align. Each metric mixes to
mono or keeps every channel, and resamples (soxr) to its own rate, as it declares. A DEG at
another sample rate than REF is first resampled to REF's rate.

DEG of another length than REF (a coded file usually is: the codec's delay and padding):
  ViSQOL (visqol_audio, visqol_speech) scores the two signals as they are, since ViSQOL aligns
  the degraded signal globally itself, as Google's C++ tool does; on 16-bit files at the
  mode's rate the value is visqol-python's VisqolApi.measure value for the two files.
  Every other metric gives the reason length_mismatch, unless --align: the lag of DEG behind
  REF is measured by waveform cross-correlation of the mono mixes (within +-1 s), removed,
  and both signals are cut to their overlap; "_meta"."align" records the lag and the samples
  dropped from each file. ViSQOL still gets the files as they are.

Output (keys in metric order):
  "<metric>": number, or null when the metric could not score the pair;
              "inf"/"-inf" (strings) where the exact value is infinite, e.g. the SNR of
              identical signals
  "reasons":  {"<metric>": "<reason>"} for every null value
              (too_short, silent, no_utterance, length_mismatch, error; a file with
              NaN/inf samples is refused instead, see the exit status)
  "_meta":    {"reference": {...}, "degraded": {...}, "resampler": "soxr ... HQ",
               "domain": ..., "align": null, or with --align {"lag", "lag_seconds",
               "method", "max_lag", "frames", "dropped": {"reference": {"start", "end"},
               "degraded": {"start", "end"}}} (samples at REF's rate),
               "metrics": {"<metric>": {"rate", "channels", "unit", "higher_is_better",
               "domain", "applicable", "version", "detail", "aligned",
               "reference_free"}}}
            A reference-free metric (DNSMOS: "reference_free": true) scores DEG alone;
            its entry also gives "reference_value", the same metric of REF.

--metrics takes "all" (default) or a comma-separated list of metric names. "all" is the
default set: pesq_nb16 (narrowband PESQ on 16 kHz input), DNSMOS and PLCMOS are computed only
when named, e.g.
"all,pesq_nb16". With --domain, "all" means the metrics that apply to that content, and
explicitly named metrics that do not apply are computed but marked "applicable": false.

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
    parser.add_argument(
        "--align",
        action="store_true",
        help="for every metric but ViSQOL: measure DEG's lag behind REF by cross-correlation "
        "(within +-1 s), remove it and cut both to their overlap (default: score as given; "
        "ViSQOL always aligns itself)",
    )
    parser.add_argument("--indent", type=int, default=2, help="JSON indent (default: 2)")


def _json_value(value: float) -> float | str | None:
    # Strict JSON has no NaN or Infinity: NaN is null (with a reason), +-inf is a string.
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


#: Largest lag --align looks for, in seconds (codec delays are tens of milliseconds).
ALIGN_MAX_LAG_S = 1.0

#: What a length mismatch's detail adds when --align was not given.
ALIGN_HINT = "use --align to remove the lag and cut both files to their overlap"


def align_pair(reference: Audio, degraded: Audio) -> tuple[Audio, Audio, dict[str, Any]]:
    """``reference`` and ``degraded`` with the lag removed and cut to their overlap, and the
    ``_meta.align`` record (lag and samples dropped at the reference's rate).

    The lag is :func:`bench.align.estimate_lag` on the mono mixes, within
    :data:`ALIGN_MAX_LAG_S` and shorter than the shorter signal, so the overlap is never
    empty.
    """
    from bench.align import estimate_lag

    shortest = min(reference.frames, degraded.frames)
    max_lag = max(0, min(round(ALIGN_MAX_LAG_S * reference.rate), shortest - 1))
    lag = estimate_lag(reference, degraded, max_lag)
    ref_start, deg_start = (0, lag) if lag >= 0 else (-lag, 0)
    frames = min(reference.frames - ref_start, degraded.frames - deg_start)
    ref_cut = reference.segment(ref_start, ref_start + frames)
    deg_cut = degraded.segment(deg_start, deg_start + frames)
    record = {
        "lag": lag,
        "lag_seconds": lag / reference.rate,
        "method": "waveform cross-correlation of the mono mixes (bench.align.estimate_lag)",
        "max_lag": max_lag,
        "frames": frames,
        "dropped": {
            "reference": {"start": ref_start, "end": reference.frames - ref_start - frames},
            "degraded": {"start": deg_start, "end": degraded.frames - deg_start - frames},
        },
    }
    return ref_cut, deg_cut, record


def score_files(
    reference_path: str,
    degraded_path: str,
    metrics_spec: str | None,
    domain: str | None,
    align: bool = False,
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

    # ViSQOL (which aligns itself) and the reference-free metrics get the files as they are;
    # with --align every other metric gets the aligned cut.
    aligned = [m for m in metrics if align and m.intrusive and not m.aligns_itself]
    align_meta: dict[str, Any] | None = None
    pairs = [([m for m in metrics if m not in aligned], reference, degraded)]
    if aligned:
        ref_cut, deg_cut, align_meta = align_pair(reference, degraded)
        pairs.append((aligned, ref_cut, deg_cut))
    results: dict[str, MetricResult] = {}
    rates: dict[str, int] = {}
    for group, ref, deg in pairs:
        # A reference-free metric scores DEG alone, whatever its length; the run's pipeline
        # (score_degraded) refuses another length there because it is not the clip's decode.
        free = [m for m in group if not m.intrusive]
        for metric in free:
            applicable = domain is None or metric.applies_to(domain)
            results[metric.name] = metric.score_signal(deg).marked(applicable)
            rates[metric.name] = metric.working_rate(deg.rate)
        group = [m for m in group if m.intrusive]
        if group:
            prepared = prepare_reference(group, ref, domain)
            results.update(score_degraded(prepared, deg))
            rates.update(prepared.rates())

    out: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    meta_metrics: dict[str, Any] = {}
    for metric in metrics:
        result = results[metric.name]
        out[metric.name] = _json_value(result.value)
        detail = result.detail
        if out[metric.name] is None:
            reasons[metric.name] = result.reason or "error"
            if result.reason == "length_mismatch" and degraded.frames != reference.frames:
                detail = f"{detail}; {ALIGN_HINT}"
        meta_metrics[metric.name] = {
            "rate": rates[metric.name],
            "channels": metric.channels,
            "unit": metric.unit,
            "higher_is_better": metric.higher_is_better,
            "domain": metric.domain,
            "applicable": result.applicable,
            "version": metric.version(),
            "detail": detail,
            "aligned": metric in aligned,
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
        "align": align_meta,
        "metrics": meta_metrics,
    }
    return out


def length_hint(out: dict[str, Any]) -> str | None:
    """The stderr note for metrics refused for the files' lengths (``None`` if there are none)."""
    details = {name: out["_meta"]["metrics"][name]["detail"] or "" for name in out["reasons"]}
    refused = [name for name, detail in details.items() if detail.endswith(ALIGN_HINT)]
    if not refused:
        return None
    meta = out["_meta"]
    frames = meta["degraded"]["frames"]
    if meta["degraded"]["resampled_to"] is not None:
        frames = f"{frames} ({meta['degraded']['rate']} Hz)"
    return (
        f"note: DEG has {frames} frames, REF {meta['reference']['frames']}: "
        f"{', '.join(refused)} gave length_mismatch; {ALIGN_HINT}"
    )


def main(args: argparse.Namespace) -> int:
    """Score the two files and print the JSON object."""
    out = score_files(args.reference, args.degraded, args.metrics, args.domain, args.align)
    json.dump(out, sys.stdout, indent=args.indent if args.indent > 0 else None, allow_nan=False)
    sys.stdout.write("\n")
    hint = length_hint(out)
    if hint is not None:
        print(hint, file=sys.stderr)
    return 0
