#!/usr/bin/env python3
"""NAMC speed on ONE CPU core: encode + decode time versus real time, per operating point and
bitstream mode. Not part of the test suite.

    python benchmarks/bench_namc.py [--clip FILE] [--repeats 50] [--cpu N]

Pins itself to one CPU (``sched_setaffinity``) and one BLAS thread (set before numpy loads),
times ``encode`` then ``decode`` of a real clip through the registered codecs (bytes included:
side information, packing or range coding, checksum) and the model alone, and writes a JSON
record (machine, commit, versions, results) to ``benchmarks/results/``. The target for the
default configuration (``note``) is >= 1000x real time.
"""

from __future__ import annotations

import os

# One thread everywhere, before numpy (and its BLAS) is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.audio import Audio, load_audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from bench.namc.config import DEFAULT_CONFIG  # noqa: E402
from bench.namc.transform import roundtrip  # noqa: E402
from bench.namc.weights import shipped_operating_points  # noqa: E402
from benchmarks.machine import describe, write_record  # noqa: E402

DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data"))
# Thunderstorm: sound in every normalisation block. A clip with digital silence would flatter
# the codec (frames of constant blocks are not coded, so they cost no time either).
DEFAULT_CLIP = DATA / "esc50-mini" / "audio" / "2-104105-A-19.wav"
TARGET = 1000.0


def timed(func, repeats: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    func()  # warm-up (caches, lazy imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="audio file to code")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: first)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[0] if args.cpu is None else args.cpu
    os.sched_setaffinity(0, {cpu})

    clip = load_audio(args.clip).mono()
    inputs = {f"{clip.rate} Hz": clip}
    if clip.rate != 16000:  # also a 16 kHz input: the codec's resampling is then included
        inputs["16000 Hz"] = clip.resample(16000)
    rows = []
    print(
        f"clip {args.clip.name}: {clip.duration:.2f} s; pinned to CPU {cpu}; "
        f"{args.repeats} repeats, median (min)"
    )
    print(f"{'point':8} {'kbps':>6} {'what':22} {'input':9} {'median ms':>9} {'x real time':>12}")
    for name, (model, _) in shipped_operating_points().items():
        kbps = model.config.nominal_kbps
        signal = clip.resample(44100).samples[0]
        model_only = timed(lambda m=model, s=signal: roundtrip(m, s), args.repeats)
        candidates = [("model only (numpy)", "44100 Hz", model_only)]
        probe = get_codec("namc").encode(clip.resample(44100), kbps).params
        coded = probe["coded_frames"] / probe["frames"]
        for codec_name in ("namc", "namc-packed"):
            codec = get_codec(codec_name)
            for label, audio in inputs.items():

                def run(c=codec, a=audio, k=kbps) -> Audio:
                    return c.decode(c.encode(a, k).data)

                candidates.append((f"{codec_name} encode+decode", label, timed(run, args.repeats)))
        for what, label, result in candidates:
            speed = clip.duration / result["median_s"]
            best = clip.duration / result["min_s"]
            rows.append(
                {
                    "operating_point": name,
                    "nominal_kbps": kbps,
                    "what": what,
                    "input": label,
                    "coded_frame_fraction": round(coded, 4),
                    **{k: round(v, 6) for k, v in result.items()},
                    "x_real_time_median": round(speed, 1),
                    "x_real_time_best": round(best, 1),
                }
            )
            print(
                f"{name:8} {kbps:6.1f} {what:22} {label:9} {1000 * result['median_s']:9.3f} "
                f"{speed:8.0f} ({best:.0f})"
            )
    default = [
        r
        for r in rows
        if r["operating_point"] == DEFAULT_CONFIG
        and r["what"].startswith("namc ")
        and r["input"] == "44100 Hz"
    ]
    verdict = all(r["x_real_time_median"] >= TARGET for r in default)
    print(
        f"default configuration ({DEFAULT_CONFIG}) encode+decode at 44.1 kHz: "
        f"{default[0]['x_real_time_median']:.0f}x real time "
        f"({'meets' if verdict else 'MISSES'} the {TARGET:.0f}x target)"
    )
    record = {
        "benchmark": "namc encode+decode speed, one CPU core",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            **describe(("numpy", "constriction", "soxr")),
            "cpus_visible": len(allowed),
            "pinned_cpu": cpu,
        },
        "clip": args.clip.name,
        "clip_seconds": clip.duration,
        "repeats": args.repeats,
        "target_x_real_time": TARGET,
        "default_meets_target": verdict,
        "results": rows,
    }
    out = write_record(args.out, "namc_speed_", record)
    print(f"wrote {out}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
