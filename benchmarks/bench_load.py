"""Load benchmark: a real run over many generated clips, with the peak memory of the main
process and of the largest worker.

    python benchmarks/bench_load.py                 # 200 and 2,000 clips, --jobs 2
    python benchmarks/bench_load.py --clips 200,2000,5000 --jobs 2

Each run is ``python -m bench run --codecs flac,mulaw --metrics snr`` over a folder of N
generated clips (0.5 s at 8 kHz, a different tone each), with a fresh results store, so every
point is computed. Peak memory is the main process's own high-water mark (``VmHWM``) and
``getrusage``'s ``ru_maxrss`` of its (waited-for) children, i.e. the largest worker. Memory is
flat when both peaks stay the same as the number of clips grows tenfold. Results are printed
and written to ``benchmarks/results/load.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]

#: Runs ``python -m bench`` and records the peak RSS of itself and of its largest child.
DRIVER = """
import json, os, resource, sys

from bench.cli import main

status = 1
try:
    status = main(sys.argv[1:])
finally:
    # VmHWM, not getrusage(RUSAGE_SELF): Linux keeps ru_maxrss across execve, so a driver
    # forked from a large process (pytest after many tests) would report that process's peak.
    with open("/proc/self/status") as status_file:
        hwm = next(int(line.split()[1]) for line in status_file if line.startswith("VmHWM:"))
    peaks = {
        "main_mb": hwm / 1024,
        "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    with open(os.environ["BENCH_LOAD_PEAKS"], "w") as handle:
        json.dump(peaks, handle)
sys.exit(status)
"""

#: What every load run computes: cheap codecs and metric, so the run measures the suite.
RUN_ARGS = ("--codecs", "flac,mulaw", "--metrics", "snr", "--examples", "1")


@dataclass
class LoadRun:
    """One measured run."""

    clips: int
    jobs: int
    points: int
    rows: int
    failed: int
    wall_s: float
    main_mb: float
    worker_mb: float


def make_clips(folder: Path, count: int, seconds: float = 0.5, rate: int = 8000) -> Path:
    """``count`` short WAV clips (PCM16), each a different tone with a little noise."""
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (150 + (i * 37) % 3000) * t)
        tone += 0.01 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i:05d}.wav", tone.astype(np.float32), rate, subtype="PCM_16")
    return folder


def measure_run(clips: Path, work: Path, jobs: int = 2, timeout: float = 3600) -> LoadRun:
    """Run the suite over ``clips`` (fresh store under ``work``) and measure it."""
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    out, peaks = work / "reports" / "run", work / "peaks.json"
    command = [sys.executable, "-c", DRIVER, "run", *RUN_ARGS, "--jobs", str(jobs),
               "--datasets", f"folder={clips}", "--out", str(out),
               "--cache", str(work / "cache.sqlite")]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "BENCH_LOAD_PEAKS": str(peaks), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    meta = json.loads((out / "run.json").read_text())
    table = pd.read_csv(out / "results.csv")
    memory = json.loads(peaks.read_text())
    return LoadRun(
        clips=len(list(clips.glob("*.wav"))),
        jobs=jobs,
        points=int(meta["points"]),
        rows=len(table),
        failed=int((table["status"] != "ok").sum()),
        wall_s=round(wall, 1),
        main_mb=round(memory["main_mb"], 1),
        worker_mb=round(memory["worker_mb"], 1),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", default="200,2000", help="clip counts (default 200,2000)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        for count in (int(c) for c in args.clips.split(",")):
            clips = make_clips(Path(tmp) / f"clips{count}", count)
            run = measure_run(clips, Path(tmp) / f"work{count}", args.jobs)
            runs.append(run)
            print(
                f"{run.clips:>6} clips, {run.points:>6} points, {run.rows:>6} rows "
                f"({run.failed} failed), --jobs {run.jobs}: {run.wall_s:>7.1f} s, "
                f"peak RSS main {run.main_mb:.0f} MB, largest worker {run.worker_mb:.0f} MB",
                flush=True,
            )
    target = ROOT / "benchmarks" / "results" / "load.json"
    target.write_text(json.dumps([asdict(r) for r in runs], indent=2) + "\n")
    print(f"written: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
