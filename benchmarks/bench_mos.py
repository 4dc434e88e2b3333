#!/usr/bin/env python3
"""What the reference-free speech metrics (DNSMOS, PLCMOS) cost next to the others, per point.

For every LibriSpeech utterance of the mini corpus (or the first ``--limit``) it decodes one
Opus 16 kbps version and times, in this one process with one onnxruntime/numba thread (as a
worker runs): every default speech metric's ``score_prepared`` on that version (the reference
prepared once, as the runner does), and ``plcmos``. The first call of each metric (session and
model load, numba) is timed apart, as the per-worker start-up. It prints CPU seconds per point
and per second of audio and writes a JSON record under ``benchmarks/results/``.

    python benchmarks/bench_mos.py [--limit 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from benchmarks.machine import describe  # noqa: E402

DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="utterances (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    from bench.audio import load_audio
    from bench.codecs import get_codec
    from bench.metrics import get_metric, prepare_reference, resolve_metrics

    files = sorted((DATA / "librispeech-mini" / "LibriSpeech").glob("*/*/*/*.flac"))
    if args.limit:
        files = files[: args.limit]
    metrics = [*resolve_metrics(None, "speech"), get_metric("plcmos")]
    opus = get_codec("opus")
    first: dict[str, float] = {}
    cpu: dict[str, float] = {m.name: 0.0 for m in metrics}
    seconds = 0.0
    for path in files:
        audio = load_audio(path)
        _, decoded = opus.roundtrip(audio, 16)
        prepared = prepare_reference(metrics, audio, "speech")
        for metric in metrics:
            converted = metric.convert(decoded)
            start = time.process_time()
            metric.score_prepared(prepared.states[metric.name], converted)
            spent = time.process_time() - start
            if metric.name not in first:
                first[metric.name] = spent
                start = time.process_time()
                metric.score_prepared(prepared.states[metric.name], converted)
                spent = time.process_time() - start
            cpu[metric.name] += spent
        seconds += audio.duration
    points = len(files)
    per_point = {name: value / points for name, value in cpu.items()}
    dnsmos = sum(v for k, v in per_point.items() if k.startswith("dnsmos"))
    intrusive = sum(v for k, v in per_point.items() if not k.startswith(("dnsmos", "plcmos")))
    record: dict[str, Any] = {
        "meta": describe(["onnxruntime", "speechmos"]),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "utterances": points,
        "audio_seconds": seconds,
        "cpu_s_per_point": per_point,
        "first_call_cpu_s": {k: v - per_point[k] for k, v in first.items()},
        "dnsmos_four_cpu_s_per_point": dnsmos,
        "other_default_speech_metrics_cpu_s_per_point": intrusive,
        "dnsmos_share_of_default_speech_metrics": dnsmos / (dnsmos + intrusive),
    }
    print(f"{points} utterances, {seconds / points:.1f} s mean; CPU s per point:")
    for name, value in per_point.items():
        print(f"  {name:<14} {value:7.3f}  (first call +{first[name] - value:.2f} s)")
    print(
        f"DNSMOS (all four) {dnsmos:.3f} s, the other default speech metrics {intrusive:.3f} s: "
        f"{100 * record['dnsmos_share_of_default_speech_metrics']:.0f} % of the default set"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"mos-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
