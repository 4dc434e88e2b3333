#!/usr/bin/env python3
"""Per-core ViSQOL time for one clip scored against a whole codec ladder, three ways.

* ``plain``: visqol-python's own call, ``VisqolApi.measure_from_arrays``, once per pair;
* ``split``: the suite's path before the fast kernels (reference analysed once per clip,
  visqol-python's functions for the rest; ``bench/metrics/visqol_split.py`` with
  ``set_fast(False)``);
* ``fast``: the suite's path now (``bench/metrics/visqol_fast.py``, ``visqol_kernels.py``).

For each mode, a real clip (ESC-50 car horn at 48 kHz, a LibriSpeech utterance at 16 kHz) is
encoded and decoded by real codecs at 8 points (bad to good; codec time is not measured), then
each way scores the clip against all 8. Ways are interleaved within each repeat and the minimum
CPU time of the repeats is kept (the machine is shared: the minimum is the least disturbed
run). The worker is one process with one numba/OpenMP thread, as the runner's workers are.
It checks that ``fast`` equals ``plain`` to 1e-9 on every value (and counts the bit-identical
ones), prints the ratios and writes a JSON record under ``benchmarks/results/``.

    python benchmarks/bench_visqol.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe, write_record  # noqa: E402

DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
CLIPS = {
    "audio": "esc50-mini/audio/2-100648-A-43.wav",  # 5 s, 44.1 kHz, car horn
    "speech": "librispeech-mini/LibriSpeech/test-other/533/1066/533-1066-0008.flac",  # 5.05 s
}
LADDERS = {
    "audio": [
        ("opus", 6.0),
        ("opus", 12.0),
        ("opus", 24.0),
        ("opus", 64.0),
        ("mp3", 32.0),
        ("mp3", 128.0),
        ("aac", 24.0),
        ("vorbis", 64.0),
    ],
    "speech": [
        ("opus", 6.0),
        ("opus", 12.0),
        ("opus", 24.0),
        ("speex", 8.0),
        ("speex", 24.0),
        ("amrnb", 4.75),
        ("amrnb", 12.2),
        ("g722", 64.0),
    ],
}
WAYS = ("plain", "split", "fast")
LIBRARIES = ("numpy", "scipy", "soxr", "visqol-python", "numba", "llvmlite", "libsvm-official")
TOLERANCE = 1e-9


def _fields(result: Any) -> list[float]:
    """Every number of a ViSQOL ``SimilarityResult``, flattened, for the identity check."""
    import numpy as np

    values = [result.moslqo, result.vnsim]
    for name in ("fvnsim", "fvnsim10", "fstdnsim", "fvdegenergy"):
        values += list(np.asarray(getattr(result, name), dtype=float))
    for patch in result.patch_sims:
        values += [patch.similarity, patch.ref_patch_start_time, patch.deg_patch_start_time]
        values += list(patch.freq_band_means) + list(patch.freq_band_stddevs)
    return values


def _mode_case(mode: str, repeats: int) -> dict[str, Any]:
    import numpy as np

    from bench.audio import load_audio
    from bench.codecs import get_codec
    from bench.metrics import visqol_split as vs

    clip = load_audio(DATA / CLIPS[mode])
    rate = vs.MODE_RATES[mode]
    ref = clip.mono().resample(rate).samples[0].astype(np.float64)
    degs = []
    for codec, kbps in LADDERS[mode]:
        _, decoded = get_codec(codec).roundtrip(clip, kbps)
        degs.append(decoded.mono().resample(rate).samples[0].astype(np.float64))

    def plain() -> list[Any]:
        return [vs.measure_direct(mode, ref, d) for d in degs]

    def prepared(fast: bool) -> list[Any]:
        vs.set_fast(fast)
        try:
            reference = vs.analyse_reference(mode, ref)
            return [vs.compare(reference, d) for d in degs]
        finally:
            vs.set_fast(True)

    run = {"plain": plain, "split": lambda: prepared(False), "fast": lambda: prepared(True)}
    for way in WAYS:  # warm-up: models, numba kernels (compiled or loaded from cache), FFT plans
        run[way]()
    cpu: dict[str, list[float]] = {w: [] for w in WAYS}
    wall: dict[str, list[float]] = {w: [] for w in WAYS}
    results: dict[str, list[Any]] = {}
    for _ in range(repeats):
        for way in WAYS:
            c, w = time.process_time(), time.perf_counter()
            results[way] = run[way]()
            cpu[way].append(time.process_time() - c)
            wall[way].append(time.perf_counter() - w)

    max_diff, same_bits, count = 0.0, 0, 0
    for fast, direct in zip(results["fast"], results["plain"], strict=True):
        a, b = _fields(fast), _fields(direct)
        if len(a) != len(b):
            max_diff = float("inf")
            continue
        for x, y in zip(a, b, strict=True):
            count += 1
            same_bits += x == y or (x != x and y != y)
            if not (x != x and y != y):
                max_diff = max(max_diff, abs(x - y))
    best = {w: min(cpu[w]) for w in WAYS}
    return {
        "clip": CLIPS[mode],
        "clip_seconds": len(ref) / rate,
        "ladder": [f"{c}@{k:g}" for c, k in LADDERS[mode]],
        "cpu_s": best,
        "per_pair_cpu_s": {w: best[w] / len(degs) for w in WAYS},
        "speedup_vs_split": best["split"] / best["fast"],
        "speedup_vs_plain": best["plain"] / best["fast"],
        "split_vs_plain": best["plain"] / best["split"],
        "runs_cpu_s": cpu,
        "runs_wall_s": wall,
        "mos": {w: [r.moslqo for r in results[w]] for w in WAYS},
        "max_abs_difference_fast_vs_plain": max_diff,
        "bit_identical_values": f"{same_bits}/{count}",
        "identical_within_tolerance": max_diff <= TOLERANCE,
    }


def worker(repeats: int) -> dict[str, Any]:
    from bench.metrics import limit_numba_threads

    limit_numba_threads()
    return {mode: _mode_case(mode, repeats) for mode in ("audio", "speech")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (min kept)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.repeats)))
        return 0

    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", "--repeats", str(args.repeats)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker failed:\n{done.stderr}")
    results = json.loads(done.stdout.strip().splitlines()[-1])

    print(f"one clip against 8 codec points, CPU seconds, min of {args.repeats} interleaved runs")
    for mode, case in results.items():
        s = case["cpu_s"]
        print(
            f"visqol_{mode:6s} plain {s['plain']:6.3f}  split {s['split']:6.3f}  "
            f"fast {s['fast']:6.3f}  fast vs split {case['speedup_vs_split']:.2f}x  "
            f"vs plain {case['speedup_vs_plain']:.2f}x  max |fast-plain| "
            f"{case['max_abs_difference_fast_vs_plain']:.1e}  bit-identical "
            f"{case['bit_identical_values']}"
        )
    record = {
        "benchmark": "bench_visqol",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": describe(LIBRARIES),
        "settings": {
            "repeats": args.repeats,
            "timing": "process CPU time of a single-threaded worker, minimum over interleaved "
            "repeats; wall time kept in runs_wall_s",
            "threads": "NUMBA_NUM_THREADS=1, OMP_NUM_THREADS=1",
            "tolerance": TOLERANCE,
        },
        "results": results,
    }
    path = write_record(args.out, "visqol-", record)
    print(f"wrote {path}")
    return 0 if all(c["identical_within_tolerance"] for c in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
