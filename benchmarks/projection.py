"""Project the time of full-corpus runs from a measured sample.

    python benchmarks/projection.py                  # 4 clips per corpus, --codecs all, --jobs 2
    python benchmarks/projection.py --limit 8 --workers 2,8,32,128

For ESC-50 and LibriSpeech it runs ``run_bench.py --codecs all`` with every default metric over
``--limit`` clips of the real corpora (``$BENCH_TEST_DATA``, default ``../shared/data``), with a
fresh results store so every point is computed, and reads from the run's own ``run.json`` and
``results.csv``: the workers' CPU seconds per stage, the number of points and the seconds of
audio. The CPU cost per second of audio (all codec points of the default matrix, all metrics)
times the length of the full corpus gives its CPU time; dividing by the cores, and by the
parallel efficiency this same run achieved (its stage CPU over wall time x cores), gives the
wall time here and on N single-core cluster workers as fast as these cores.

Full corpora: ESC-50 is 2,000 clips of 5 s; LibriSpeech test-clean is 2,620 utterances,
5.40 hours. Results are printed and written to ``benchmarks/results/projection.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

#: (dataset spec under the test data folder, clips in the full corpus, seconds of audio)
CORPORA = {
    "esc50": ("esc50=esc50-mini", 2000, 2000 * 5.0),
    "librispeech": ("librispeech=librispeech-mini/LibriSpeech", 2620, 5.40 * 3600),
}


def measure(name: str, spec: str, limit: int, jobs: int, work: Path) -> dict[str, Any]:
    """One fresh ``--codecs all`` run over ``limit`` clips; its costs per point and per second."""
    out = work / name
    args = [
        sys.executable,
        "run_bench.py",
        "--codecs",
        "all",
        "--datasets",
        spec,
        "--limit",
        str(limit),
        "--jobs",
        str(jobs),
        "--out",
        str(out),
        "--cache",
        str(work / f"{name}.sqlite"),
        "--no-report",
    ]
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    meta = json.loads((out / "run.json").read_text())
    table = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    timings = meta["timings"]
    audio_s = float(table.drop_duplicates("clip_id")["duration_s"].sum())
    clips = int(table["clip_id"].nunique())
    stage = float(timings["stage_cpu_s"])
    return {
        "clips": clips,
        "audio_s": audio_s,
        "points": int(meta["points"]),
        "points_per_clip": meta["points"] / clips,
        "failed_points": int(meta["failed"]),
        "wall_s": wall,
        "stage_cpu_s": stage,
        "cpu_s_per_point": stage / meta["points"],
        "cpu_s_per_audio_s": stage / audio_s,
        "parallel_efficiency": stage / (wall * jobs),
        "share": {
            stage_name.removesuffix("_cpu_s"): timings.get(stage_name, 0.0) / stage
            for stage_name in ("load_cpu_s", "prepare_cpu_s", "codec_cpu_s", "metrics_cpu_s")
        },
    }


def hours(seconds: float) -> float:
    return seconds / 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=4, help="clips per corpus (default 4)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--workers", default="2,8,32,128", help="cluster sizes to project")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data")),
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    workers = [int(n) for n in args.workers.split(",")]

    report: dict[str, Any] = {"meta": {**describe(), "jobs": args.jobs}, "corpora": {}}
    with tempfile.TemporaryDirectory(prefix="bench-projection-") as tmp:
        for name, (spec, full_clips, full_seconds) in CORPORA.items():
            key, rel = spec.split("=")
            print(f"{name}: {args.limit} clips, --codecs all ...", flush=True)
            sample = measure(name, f"{key}={args.data / rel}", args.limit, args.jobs, Path(tmp))
            cpu = sample["cpu_s_per_audio_s"] * full_seconds
            efficiency = min(1.0, sample["parallel_efficiency"])
            report["corpora"][name] = {
                "sample": sample,
                "full": {
                    "clips": full_clips,
                    "audio_h": hours(full_seconds),
                    "points": round(full_clips * sample["points_per_clip"]),
                    "cpu_h": hours(cpu),
                    "wall_h_here": hours(cpu / (args.jobs * efficiency)),
                    "wall_h_on_workers": {str(n): hours(cpu / (n * efficiency)) for n in workers},
                },
            }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "projection.json").write_text(json.dumps(report, indent=2) + "\n")

    print(
        f"\n{'corpus':<12} {'points':>8} {'CPU s/pt':>9} {'CPU h':>7} {'here h':>7}  "
        + "  ".join(f"{n:>4} w h" for n in workers)
    )
    for name, entry in report["corpora"].items():
        full, sample = entry["full"], entry["sample"]
        print(
            f"{name:<12} {full['points']:>8} {sample['cpu_s_per_point']:>9.2f} "
            f"{full['cpu_h']:>7.1f} {full['wall_h_here']:>7.1f}  "
            + "  ".join(f"{full['wall_h_on_workers'][str(n)]:>6.2f}" for n in workers)
        )
        share = ", ".join(f"{k} {v:.0%}" for k, v in sample["share"].items())
        print(f"{'':<12} CPU by stage: {share}; efficiency {sample['parallel_efficiency']:.2f}")
    print(f"\nwritten: {args.out / 'projection.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
