"""A benchmark of the benchmark: the suite's speed and memory, measured side by side in one run.

What it times (each on the same clips, in this one run, so ratios are not comparisons across
machines or days):

1. **codec backends**: every FFmpeg codec spec run in process (PyAV) and through the ``ffmpeg``
   binary, per clip;
2. **pipeline vs naive**: ``run_bench.py --jobs 2`` (fresh store) against a naive baseline doing
   the same work in one process: ``ffmpeg`` binary codecs, ViSQOL without numba, the clip
   re-read and every metric's reference side recomputed for every point, nothing cached;
3. **parallel efficiency**: ``--jobs 1`` against ``--jobs 2``, and local against Dask with two
   workers;
4. **overhead**: the run's wall time against its workers' own CPU time (load, reference
   preparation, codec, metrics) divided by the cores;
5. **cache**: a repeated run (everything in the store) against the first;
6. **memory**: peak resident memory of the whole process tree at 50 and 500 clips;
7. **NAMC** encode + decode against real time on one core (``benchmarks/bench_namc.py``), and
   ViSQOL's per-clip reference reuse (``benchmarks/bench_metrics.py``) when those scripts exist.

It prints the ratios against the targets and writes a self-describing JSON file (machine,
commit, library versions, command, timings) to ``benchmarks/results/``. Run it on an idle
machine:

    python benchmarks/bench_pipeline.py              # full (about 20-40 min on 2 cores)
    python benchmarks/bench_pipeline.py --quick      # smaller workload, rough ratios
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

#: Targets of issue 7, as (comparison, threshold).
TARGETS = {
    "pipeline_speedup_vs_naive": (">=", 8.0),
    "parallel_efficiency_2_jobs": (">=", 0.85),
    "wall_over_stage_cpu_per_core": ("<=", 1.15),
    "cached_rerun_fraction": ("<", 0.05),
    "peak_rss_gb_jobs2": ("<", 1.5),
    "memory_growth_500_vs_50": ("<=", 1.15),
    "namc_realtime_factor_one_core": (">=", 1000.0),
}

#: The workload of parts 2-6: codecs and bitrates every backend can run. Each ladder must be
#: the union of all of them restricted to what the codec accepts (run_bench.py --bitrates
#: applies the union to every codec).
WORKLOAD_CODECS = {"opus": (6, 16, 32, 64), "mp3": (16, 32, 64), "aac": (16, 32, 64)}


# -- helpers --------------------------------------------------------------------------------------
class TreeMemory:
    """Samples the resident memory of a process and all its descendants (psutil)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            for proc in processes:
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                self.peak_single = max(self.peak_single, rss)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def run_timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak tree RSS in bytes, combined output)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    with TreeMemory(proc.pid) as memory:
        output, _ = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{output[-3000:]}")
    return wall, memory.peak_total, output


def bench_args(datasets: str, limit: int, out: Path, cache: Path, *extra: str) -> list[str]:
    codecs = ",".join(WORKLOAD_CODECS)
    bitrates = sorted({k for ks in WORKLOAD_CODECS.values() for k in ks})
    return [
        sys.executable, "run_bench.py", "--codecs", codecs,
        "--bitrates", ",".join(map(str, bitrates)), "--datasets", datasets,
        "--limit", str(limit), "--out", str(out), "--cache", str(cache), *extra,
    ]  # fmt: skip


# -- 1. codec backends ---------------------------------------------------------------------------
def codec_backends(clip_paths: list[Path]) -> dict[str, Any]:
    """Per-clip encode+decode time of each FFmpeg spec in process vs through the binary."""
    from bench.audio import load_audio
    from bench.codecs.cli_codecs import FFmpegCliCodec, _capabilities, ffmpeg_path
    from bench.codecs.pyav_codecs import SPECS, PyAVCodec

    binary = ffmpeg_path()
    if binary is None:
        return {"skipped": "no ffmpeg binary"}
    encoders = _capabilities(binary)[1]
    audios = [load_audio(p) for p in clip_paths]
    rows = {}
    for spec in SPECS:
        if spec.encoder not in encoders:
            continue
        kbps = (
            None if spec.bitrates.lossless else spec.bitrates.ladder[len(spec.bitrates.ladder) // 2]
        )
        in_process, binary_codec = PyAVCodec(spec), FFmpegCliCodec(spec)
        times = {"pyav": [], "ffmpeg-cli": []}
        for audio in audios:
            for label, codec in (("pyav", in_process), ("ffmpeg-cli", binary_codec)):
                codec.roundtrip(audio, kbps)  # warm (first-use costs out of the timing)
                start = time.perf_counter()
                codec.roundtrip(audio, kbps)
                times[label].append(time.perf_counter() - start)
        pyav, cli = statistics.mean(times["pyav"]), statistics.mean(times["ffmpeg-cli"])
        rows[spec.name] = {"kbps": kbps, "pyav_s_per_clip": pyav, "cli_s_per_clip": cli,
                           "speedup": cli / pyav}  # fmt: skip
    overall = sum(r["cli_s_per_clip"] for r in rows.values()) / sum(
        r["pyav_s_per_clip"] for r in rows.values()
    )
    return {"clips": len(audios), "codecs": rows, "speedup_overall": overall}


# -- 2. naive baseline ---------------------------------------------------------------------------
def naive_worker(datasets: str, limit: int) -> None:
    """One process, ffmpeg binary codecs, ViSQOL without numba, nothing reused or cached."""
    sys.modules["numba"] = None  # type: ignore[assignment]  # visqol-python's numpy path
    from bench.codecs.cli_codecs import FFmpegCliCodec
    from bench.codecs.pyav_codecs import SPECS
    from bench.datasets import load_clips, parse_datasets_arg
    from bench.metrics import resolve_metrics

    specs = {spec.name: spec for spec in SPECS}
    clips = [c for s in parse_datasets_arg(datasets, ROOT / "datasets")
             for c in load_clips(s, limit=limit)]  # fmt: skip
    points = 0
    for clip in clips:
        for name, ladder in WORKLOAD_CODECS.items():
            codec = FFmpegCliCodec(specs[name])
            for kbps in ladder:
                audio = clip.load()  # read again for every point
                _, decoded = codec.roundtrip(audio, kbps)
                for metric in resolve_metrics(None, clip.domain):
                    metric.score(audio, decoded)  # reference side redone every time
                points += 1
    print(json.dumps({"points": points}))


# -- the benchmark --------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small workload (rough ratios)")
    parser.add_argument("--data", type=Path, default=Path(
        os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data")))  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip")
    parser.add_argument("--naive-worker", nargs=2, metavar=("DATASETS", "LIMIT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.naive_worker:
        naive_worker(args.naive_worker[0], int(args.naive_worker[1]))
        return 0

    skip = set(filter(None, args.skip.split(",")))
    esc = args.data / "esc50-mini"
    libri = args.data / "librispeech-mini" / "LibriSpeech"
    datasets = f"esc50={esc},librispeech={libri}"
    limit = 2 if args.quick else 6
    report: dict[str, Any] = {"meta": describe(), "workload": {
        "datasets": datasets, "limit_per_dataset": limit, "codecs": WORKLOAD_CODECS}}  # fmt: skip
    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    print(f"work folder: {work}", flush=True)

    if "codecs" not in skip:
        print("1. codec backends ...", flush=True)
        from bench.datasets import load_clips

        paths = [c.path for c in load_clips(f"esc50={esc}", limit=limit)]
        paths += [c.path for c in load_clips(f"librispeech={libri}", limit=limit)]
        results["codec_backends"] = codec_backends(paths)

    if "pipeline" not in skip:
        print("2. pipeline (--jobs 2) ...", flush=True)
        wall2, rss2, _ = run_timed(bench_args(datasets, limit, work / "j2", work / "j2.sqlite",
                                              "--jobs", "2", "--no-report"))  # fmt: skip
        meta2 = json.loads((work / "j2" / "run.json").read_text())
        results["pipeline_jobs2"] = {
            "wall_s": wall2, "peak_rss_bytes": rss2, "points": meta2["points"],
            "timings": meta2["timings"],
        }  # fmt: skip
        stage = meta2["timings"]["stage_cpu_s"]
        results["overhead"] = {"wall_s": wall2, "stage_cpu_s": stage, "cores": 2,
                               "ratio": wall2 / (stage / 2)}  # fmt: skip

        print("3. pipeline (--jobs 1) ...", flush=True)
        wall1, _, _ = run_timed(bench_args(datasets, limit, work / "j1", work / "j1.sqlite",
                                           "--jobs", "1", "--no-report"))  # fmt: skip
        results["parallel"] = {"jobs1_wall_s": wall1, "jobs2_wall_s": wall2,
                               "efficiency": wall1 / (2 * wall2)}  # fmt: skip

        if "dask" not in skip:
            print("4. dask (2 workers) ...", flush=True)
            walld, _, _ = run_timed(bench_args(datasets, limit, work / "dask", work / "d.sqlite",
                                               "--jobs", "2", "--no-report", "--executor",
                                               "dask"))  # fmt: skip
            results["dask"] = {"local_wall_s": wall2, "dask_wall_s": walld,
                               "dask_over_local": walld / wall2}  # fmt: skip

        print("5. first run with report, then the same run from the store ...", flush=True)
        first, _, _ = run_timed(bench_args(datasets, limit, work / "f1", work / "f.sqlite",
                                           "--jobs", "2"))  # fmt: skip
        again, _, _ = run_timed(bench_args(datasets, limit, work / "f2", work / "f.sqlite",
                                           "--jobs", "2"))  # fmt: skip
        meta = json.loads((work / "f2" / "run.json").read_text())
        assert meta["computed"] == 0, "the repeated run computed something"
        results["cache"] = {"first_s": first, "cached_s": again, "fraction": again / first}

        if "naive" not in skip:
            print("6. naive baseline (one process, ffmpeg binary, no numba, no reuse) ...",
                  flush=True)  # fmt: skip
            naive = [sys.executable, str(Path(__file__).resolve()), "--naive-worker", datasets,
                     str(limit)]  # fmt: skip
            one_thread = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
            walln, _, out = run_timed(naive, env=one_thread)
            naive_points = json.loads(out.strip().splitlines()[-1])["points"]
            assert naive_points == meta2["points"], (naive_points, meta2["points"])
            results["naive"] = {"wall_s": walln, "pipeline_wall_s": wall2,
                                "speedup": walln / wall2, "points": naive_points}  # fmt: skip

    if "memory" not in skip:
        print("7. memory at 50 and 500 clips ...", flush=True)
        results["memory"] = memory_scaling(work, 20 if args.quick else 50,
                                           200 if args.quick else 500)  # fmt: skip

    if "namc" not in skip and (ROOT / "benchmarks" / "bench_namc.py").exists():
        print("8. NAMC real-time factor ...", flush=True)
        results["namc"] = external_json("bench_namc.py", work / "namc")
    if "visqol" not in skip and (ROOT / "benchmarks" / "bench_metrics.py").exists():
        print("9. ViSQOL reference reuse ...", flush=True)
        results["visqol_reuse"] = external_json(
            "bench_metrics.py", work / "metrics", "--no-pure-python", "--repeats", "1"
        )

    report["results"] = results
    report["targets"] = evaluate(results)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.out / f"pipeline-{stamp}.json"
    text = json.dumps(report, indent=2, default=str)
    path.write_text(text + "\n")
    (args.out / "pipeline-latest.json").write_text(text + "\n")
    print_targets(report["targets"])
    print(f"\nwritten: {path}")
    return 0


def memory_scaling(work: Path, small: int, large: int) -> dict[str, Any]:
    """Peak RSS of a cheap run over ``small`` and ``large`` generated clips (--jobs 2)."""
    import numpy as np
    import soundfile as sf

    folder = work / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    for i in range(large):
        sig = 0.2 * np.sin(2 * np.pi * (100 + i) * t) + 0.01 * rng.standard_normal(t.size)
        sf.write(folder / f"c{i:04d}.wav", sig.astype(np.float32), 16000, subtype="PCM_16")
    out = {}
    for count in (small, large):
        args = [sys.executable, "run_bench.py", "--codecs", "opus,flac", "--bitrates", "16",
                "--metrics", "snr,si_sdr,lsd", "--datasets", f"folder={folder}", "--limit",
                str(count), "--jobs", "2", "--out", str(work / f"m{count}"),
                "--cache", str(work / f"m{count}.sqlite")]  # fmt: skip
        wall, rss, _ = run_timed(args)
        out[str(count)] = {"wall_s": wall, "peak_rss_bytes": rss}
    out["growth"] = out[str(large)]["peak_rss_bytes"] / out[str(small)]["peak_rss_bytes"]
    return out


def external_json(script: str, folder: Path, *extra: str) -> dict[str, Any]:
    """Run another benchmark script (it writes one JSON record into ``--out DIR``) and return
    that record. A script that misses its own target exits 1 but still writes its record."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "benchmarks" / script), "--out", str(folder), *extra]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    written = sorted(folder.glob("*.json"))
    if not written:
        return {"failed": (proc.stdout + proc.stderr)[-2000:]}
    return json.loads(written[-1].read_text())


def evaluate(results: dict[str, Any]) -> dict[str, Any]:
    """Each target with its measured value and whether it is met."""
    values = {
        "pipeline_speedup_vs_naive": results.get("naive", {}).get("speedup"),
        "parallel_efficiency_2_jobs": results.get("parallel", {}).get("efficiency"),
        "wall_over_stage_cpu_per_core": results.get("overhead", {}).get("ratio"),
        "cached_rerun_fraction": results.get("cache", {}).get("fraction"),
        "peak_rss_gb_jobs2": (results.get("pipeline_jobs2", {}).get("peak_rss_bytes") or 0) / 1e9
        or None,
        "memory_growth_500_vs_50": results.get("memory", {}).get("growth"),
        "namc_realtime_factor_one_core": _namc_factor(results.get("namc", {})),
    }
    out = {}
    for name, (op, threshold) in TARGETS.items():
        value = values.get(name)
        met = None
        if value is not None:
            met = {">=": value >= threshold, "<=": value <= threshold, "<": value < threshold}[op]
        out[name] = {"value": value, "target": f"{op} {threshold:g}", "met": met}
    return out


def _namc_factor(namc: dict[str, Any]) -> float | None:
    """The default NAMC point's encode+decode speed at 44.1 kHz (the slower of its two modes)."""
    rows = namc.get("results", []) if isinstance(namc, dict) else []
    speeds = [
        r["x_real_time_median"]
        for r in rows
        if r.get("operating_point") == "note"
        and str(r.get("what", "")).startswith("namc")
        and r.get("input") == "44100 Hz"
    ]
    return float(min(speeds)) if speeds else None


def print_targets(targets: dict[str, Any]) -> None:
    print("\ntarget                              measured    target      met")
    for name, entry in targets.items():
        value = entry["value"]
        shown = "-" if value is None else f"{value:.3g}"
        met = {True: "yes", False: "NO", None: "-"}[entry["met"]]
        print(f"{name:<35} {shown:>9}   {entry['target']:<10}  {met}")


if __name__ == "__main__":
    sys.exit(main())
