#!/usr/bin/env python3
"""Measure what per-clip reference preparation saves, and what numba buys ViSQOL.

For one real reference clip and N degraded versions of it (noise at several SNRs and low-pass
filters, standing in for codec outputs at several bitrates) this times:

* ViSQOL audio and speech mode, naive (``VisqolApi.measure_from_arrays`` per pair, as
  visqol-python is normally called) against prepared (reference analysed once, see
  ``bench/metrics/visqol_split.py``), with and without numba (visqol-python's ``accel`` extra);
* the whole metric suite, naive (``metric.score(ref, deg)`` per pair and metric: every
  resampling and reference analysis repeated) against ``prepare_reference`` once plus
  ``score_degraded`` per version.

It checks that both ways give identical values, prints the ratios and writes a JSON file with
machine, commit and library versions under ``benchmarks/results/``. Each configuration runs in
its own process with one numba/OpenMP thread, as the runner's worker processes do.

    python benchmarks/bench_metrics.py [--versions 8] [--repeats 3] [--no-pure-python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
ESC50_CLIP = "esc50-mini/audio/2-100648-A-43.wav"  # 5 s, 44.1 kHz, car horn
SPEECH_CLIP = "librispeech-mini/LibriSpeech/test-other/533/1066/533-1066-0008.flac"  # 5.05 s
LIBRARIES = (
    "numpy",
    "scipy",
    "soxr",
    "visqol-python",
    "numba",
    "llvmlite",
    "libsvm-official",
    "ai-edge-litert",
    "pesq",
    "pystoi",
)


# -- worker side (one process per configuration) --------------------------------------------
def _degraded_versions(reference: Any, count: int) -> list[Any]:
    import numpy as np
    from scipy import signal

    from bench.audio import Audio

    clean = reference.samples.astype(np.float64)
    versions = []
    for i in range(count):
        if i % 2 == 0:  # white noise, 45 dB down to lower SNRs
            snr = 45.0 - 5.0 * i
            noise = np.random.default_rng(i).standard_normal(clean.shape)
            noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10 ** (snr / 10))
            versions.append(Audio(clean + noise, reference.rate))
        else:  # low-pass, 16 kHz cutoff down to narrower bands (capped below Nyquist)
            cutoff = min(16000.0 / (1 + i // 2), 0.45 * reference.rate)
            sos = signal.butter(8, cutoff, fs=reference.rate, output="sos")
            versions.append(Audio(signal.sosfilt(sos, clean, axis=-1), reference.rate))
    return versions


def _timed(fn: Any) -> tuple[float, float, Any]:
    """(CPU seconds of this process, wall seconds, value). The worker is single-threaded, so
    its CPU time is the work itself: unlike wall time, other load on the machine barely
    changes it. Ratios are computed from CPU time."""
    cpu, wall = time.process_time(), time.perf_counter()
    value = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, value


def _visqol_case(mode: str, reference: Any, versions: list[Any], repeats: int) -> dict[str, Any]:
    import numpy as np

    from bench.metrics import visqol_split as vs

    rate = vs.MODE_RATES[mode]
    ref = reference.mono().resample(rate).samples[0].astype(np.float64)
    degs = [v.mono().resample(rate).samples[0].astype(np.float64) for v in versions]
    vs.measure_direct(mode, ref, degs[0])  # load models, numba kernels, FFT plans

    def prepared_path() -> tuple[float, list[float]]:
        start = time.process_time()
        prepared = vs.analyse_reference(mode, ref)
        analysis = time.process_time() - start
        return analysis, [vs.compare(prepared, d).moslqo for d in degs]

    runs: dict[str, list[float]] = {
        k: [] for k in ("naive", "prepared", "analysis", "wall_n", "wall_p")
    }
    naive_values: list[float] = []
    prepared_values: list[float] = []
    for _ in range(repeats):
        cpu, wall, naive_values = _timed(
            lambda: [vs.measure_direct(mode, ref, d).moslqo for d in degs]
        )
        runs["naive"].append(cpu)
        runs["wall_n"].append(wall)
        cpu, wall, (analysis, prepared_values) = _timed(prepared_path)
        runs["prepared"].append(cpu)
        runs["wall_p"].append(wall)
        runs["analysis"].append(analysis)
    naive, prep = statistics.median(runs["naive"]), statistics.median(runs["prepared"])
    return {
        "clip_seconds": len(ref) / rate,
        "versions": len(degs),
        "naive_s": naive,
        "prepared_s": prep,
        "reference_analysis_s": statistics.median(runs["analysis"]),
        "naive_per_pair_s": naive / len(degs),
        "prepared_per_pair_s": prep / len(degs),
        "speedup": naive / prep,
        "naive_wall_s": statistics.median(runs["wall_n"]),
        "prepared_wall_s": statistics.median(runs["wall_p"]),
        "identical_values": naive_values == prepared_values,
        "values": prepared_values,
        "runs_cpu_s": {"naive": runs["naive"], "prepared": runs["prepared"]},
    }


def _suite_case(reference: Any, versions: list[Any], repeats: int, domain: str) -> dict[str, Any]:
    import math

    from bench.metrics import prepare_reference, resolve_metrics, score_degraded

    metrics = resolve_metrics("all", domain)
    score_degraded(prepare_reference(metrics, reference, domain), versions[0])  # warm up

    def naive() -> list[dict[str, float]]:
        return [{m.name: m.score(reference, v).value for m in metrics} for v in versions]

    def shared() -> tuple[list[dict[str, float]], dict[str, float]]:
        prepared = prepare_reference(metrics, reference, domain)
        rows = [{k: r.value for k, r in score_degraded(prepared, v).items()} for v in versions]
        return rows, prepared.seconds

    naive_runs, shared_runs, naive_wall, shared_wall = [], [], [], []
    for _ in range(repeats):
        cpu, wall, naive_rows = _timed(naive)
        naive_runs.append(cpu)
        naive_wall.append(wall)
        cpu, wall, (shared_rows, per_metric) = _timed(shared)
        shared_runs.append(cpu)
        shared_wall.append(wall)

    def same(a: float, b: float, name: str) -> bool:
        if math.isnan(a) and math.isnan(b):
            return True
        return abs(a - b) <= 1e-9 if name == "estoi" else a == b  # ESTOI adds random eps

    identical = all(
        same(a[k], b[k], k) for a, b in zip(naive_rows, shared_rows, strict=True) for k in a
    )
    naive_s, shared_s = statistics.median(naive_runs), statistics.median(shared_runs)
    return {
        "metrics": [m.name for m in metrics],
        "versions": len(versions),
        "naive_s": naive_s,
        "prepared_s": shared_s,
        "speedup": naive_s / shared_s,
        "naive_wall_s": statistics.median(naive_wall),
        "prepared_wall_s": statistics.median(shared_wall),
        "identical_values": identical,
        "prepared_wall_seconds_per_metric": per_metric,
    }


def worker(pure_python: bool, versions: int, repeats: int) -> dict[str, Any]:
    """One configuration, in this process: returns its measurements."""
    if pure_python:
        sys.modules["numba"] = None  # type: ignore[assignment]  # import numba -> ImportError
    from bench.audio import load_audio
    from bench.metrics import limit_numba_threads

    limit_numba_threads()
    from visqol.numba_accel import has_numba

    esc50 = load_audio(DATA / ESC50_CLIP)
    speech = load_audio(DATA / SPEECH_CLIP)
    esc50_versions = _degraded_versions(esc50, versions)
    speech_versions = _degraded_versions(speech, versions)
    out: dict[str, Any] = {
        "numba": has_numba(),
        "visqol_audio": _visqol_case("audio", esc50, esc50_versions, repeats),
        "visqol_speech": _visqol_case("speech", speech, speech_versions, repeats),
    }
    if not pure_python:
        out["suite_audio"] = _suite_case(esc50, esc50_versions, repeats, "audio")
        out["suite_speech"] = _suite_case(speech, speech_versions, repeats, "speech")
    return out


# -- driver side ------------------------------------------------------------------------------
def _run_worker(pure_python: bool, versions: int, repeats: int) -> dict[str, Any]:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", "--versions", str(versions)]
    cmd += ["--repeats", str(repeats)] + (["--pure-python"] if pure_python else [])
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        which = "pure Python" if pure_python else "numba"
        raise SystemExit(f"worker failed ({which}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=8, help="degraded versions per clip")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median kept)")
    parser.add_argument(
        "--pure-python-repeats", type=int, default=1, help="repeats of the run without numba"
    )
    parser.add_argument(
        "--no-pure-python", action="store_true", help="skip the (slow) run without numba"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pure-python", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.pure_python, args.versions, args.repeats)))
        return 0

    runs = {"numba": _run_worker(False, args.versions, args.repeats)}
    if not args.no_pure_python:
        runs["pure_python"] = _run_worker(True, args.versions, args.pure_python_repeats)

    print(f"{args.versions} degraded versions per clip; CPU seconds, median of repeats")
    for config, result in runs.items():
        for key in ("visqol_audio", "visqol_speech", "suite_audio", "suite_speech"):
            if key not in result:
                continue
            case = result[key]
            print(
                f"{config:12s} {key:14s} naive {case['naive_s']:7.2f} s  prepared "
                f"{case['prepared_s']:7.2f} s  speedup {case['speedup']:.2f}x  "
                f"identical={case['identical_values']}"
            )
    if "pure_python" in runs:
        for key in ("visqol_audio", "visqol_speech"):
            ratio = runs["pure_python"][key]["naive_s"] / runs["numba"][key]["naive_s"]
            print(f"numba speeds up naive {key} {ratio:.2f}x")

    record = {
        "benchmark": "bench_metrics",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": describe(LIBRARIES),
        "settings": {
            "versions_per_clip": args.versions,
            "repeats": args.repeats,
            "pure_python_repeats": args.pure_python_repeats,
            "timing": "process CPU time (single-threaded workers); wall time kept as *_wall_s",
            "threads": "NUMBA_NUM_THREADS=1, OMP_NUM_THREADS=1, one process per configuration",
            "clips": {"audio": ESC50_CLIP, "speech": SPEECH_CLIP},
        },
        "results": runs,
    }
    path = write_record(args.out, "metrics-", record)
    print(f"wrote {path}")
    all_identical = all(
        case["identical_values"]
        for result in runs.values()
        for case in result.values()
        if isinstance(case, dict)
    )
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
