#!/usr/bin/env python3
"""The fixed costs of a small run: a 16-point run's wall time against its stage CPU / cores.

The run: ``run_bench.py --codecs opus --bitrates 6,16,32,64`` over 2 ESC-50 and 2 LibriSpeech
clips of the mini corpora (16 points, every default metric, the report written), ``--jobs 2``,
a fresh results store each time. From the process's wall time (measured here, interpreter
start-up and exit included) and ``run.json``'s timings it reports:

* ``ratio``: wall / (stage CPU / cores), the target being <= 1.15 (stage CPU = the workers'
  CPU seconds in load, reference preparation, codec and metrics: the work itself);
* ``overhead_cpu_s``: the CPU seconds of the whole process tree beyond stage CPU (imports,
  workers' start-up and exit, tables, plots, page): unlike wall times, not inflated by other
  work on the machine;
* where the rest goes: before the first job (``before_compute_s``: planning, workers starting),
  the compute phase beyond stage CPU / cores (workers' start-up, the last points' imbalance),
  the outputs (``outputs_s``: tables, plots, page) and what lies outside ``run.json``'s clock
  (imports before the run starts, interpreter exit).

The stage CPU holds each worker's first-use imports of the codec and metric libraries (about
0.8 CPU s a worker: pystoi brings scipy.signal, visqol scipy and numba), as it has since the
target was set; ``library_import_cpu_s`` measures them once in a fresh interpreter (numpy and
the suite already imported, as in a forked worker) and ``ratio_without_imports`` divides by the
stage CPU less one such import per worker: the ratio a stricter accounting gives.

Beside the run itself (``full``), two variants of the same run show what the outputs cost, each
repeated as often and interleaved with it: ``no_report`` (``--no-report``: results.csv,
summary.csv and run.json, no page, no plots, no examples) and ``no_outputs``, a driver that
writes no results table, page or runs list at all and never imports pandas (the compute and
run.json only; it patches the runner's output functions, so it measures this commit's code and
fails loudly if their names change). ``no_outputs`` is the floor the outputs sit on: the part of
the 1.15 budget the tables, plots and page may use is 1.15 minus its ratio.

The runs write and use bytecode caches (``__pycache__``) as a user's checkout does, even where
``PYTHONDONTWRITEBYTECODE`` is set, so the first run of a fresh checkout also compiles. Each
configuration runs ``--repeats`` times and the median is kept, with the load average
(other work on the machine inflates wall times, not CPU times). ``--root`` runs another
checkout (e.g. a ``git worktree`` of an older commit) for a before/after comparison.

    python benchmarks/bench_small_run.py [--repeats 3] [--root PATH] [--no-variants]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe  # noqa: E402

TARGET = 1.15
CORES = 2


#: The ``no_outputs`` variant: the run with its output functions replaced by no-ops (no tables,
#: page, runs list or summary; pandas never imported, which it checks).
NO_OUTPUTS_DRIVER = """
import os, sys

def table(planned, *args, **kwargs):  # all the runner reads of it: the status column
    import numpy as np

    return {"status": np.array(["ok"] * len(planned))}

def replace(module, name, value):
    if not hasattr(module, name):  # the runner changed: this variant must change with it
        raise SystemExit(f"no_outputs: {module.__name__}.{name} is gone")
    setattr(module, name, value)

if __name__ == "__main__":  # (a spawned worker imports this file again)
    from bench.cli import _quiet_blas, main

    _quiet_blas(["run"])  # as main() does before numpy loads, so the workers are forked
    import bench.runner as runner
    import bench.summary as summary

    replace(runner, "_warm_up_outputs", lambda *a, **k: None)
    replace(runner, "_write_outputs", lambda *a, **k: {})
    replace(runner, "_update_index", lambda *a, **k: None)
    replace(runner, "_results_table", table)
    replace(summary, "print_summary", lambda *a, **k: None)
    code = main(["run", *sys.argv[1:]])
    if "pandas" in sys.modules:
        raise SystemExit("no_outputs: pandas was imported")
    sys.stdout.flush()
    os._exit(code or 0)
"""

#: The configurations timed, interleaved: the run itself and the two variants (module docstring).
VARIANTS = ("full", "no_report", "no_outputs")


def one_run(root: Path, data: Path, work: Path, variant: str = "full") -> dict[str, Any]:
    """One fresh 16-point run in ``root`` (``variant``: one of :data:`VARIANTS`); its timings."""
    out, cache = work / "out", work / "cache.sqlite"
    datasets = (
        f"esc50={data / 'esc50-mini'},librispeech={data / 'librispeech-mini' / 'LibriSpeech'}"
    )
    entry = ["run_bench.py"]
    if variant == "no_outputs":
        driver = work / "no_outputs.py"
        driver.write_text(NO_OUTPUTS_DRIVER)
        entry = [str(driver)]
    args = [
        sys.executable, *entry, "--codecs", "opus", "--bitrates", "6,16,32,64",
        "--datasets", datasets, "--limit", "2", "--jobs", str(CORES), "--out", str(out),
        "--cache", str(cache), *(["--no-report"] if variant == "no_report" else []),
    ]  # fmt: skip
    # Bytecode caches written and used as in a user's checkout: a sandbox's
    # PYTHONDONTWRITEBYTECODE would have every process compile the suite's sources again.
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the whole process tree (the main process and every worker it waited for).
    tree_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    meta = json.loads((out / "run.json").read_text())
    timings = meta["timings"]
    assert meta["points"] == 16, meta["points"]
    stage = float(timings["stage_cpu_s"])
    per_core = stage / CORES
    row = {
        "wall_s": wall,
        "stage_cpu_s": stage,
        "ratio": wall / per_core,
        "load_1min_before": load,
        # Robust to other work on the machine: CPU spent beyond the work itself.
        "tree_cpu_s": tree_cpu,
        "overhead_cpu_s": tree_cpu - stage,
        "run_json_wall_s": timings["wall_s"],
        "compute_wall_s": timings["compute_wall_s"],
        "compute_over_stage_per_core_s": timings["compute_wall_s"] - per_core,
        "outside_run_json_s": wall - timings["wall_s"],
    }
    for name in ("before_compute_s", "outputs_s"):  # absent before these were recorded
        if name in timings:  # (and outputs_s in the no_outputs variant)
            row[name] = timings[name]
    return row


#: What a worker imports on first use for this run's codec and metrics.
FIRST_USE_IMPORTS = "soundfile, soxr, av, pesq, pystoi, visqol, bench.metrics.visqol_fast"


def library_import_cpu(root: Path, repeats: int = 3) -> float:
    """Median CPU seconds a fresh interpreter (numpy and the job module already loaded, as
    in a forked worker) takes to import :data:`FIRST_USE_IMPORTS`."""
    code = (
        "import time, numpy, bench.jobs; t = time.process_time(); "
        f"import {FIRST_USE_IMPORTS}; print(time.process_time() - t)"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    values = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        values.append(float(proc.stdout.strip().splitlines()[-1]))
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run (default: this)")
    parser.add_argument("--data", type=Path, default=Path(
        os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data")))  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--no-variants", dest="variants", action="store_false",
        help="time the run only, not its no_report and no_outputs variants",
    )  # fmt: skip
    args = parser.parse_args()

    variants = VARIANTS if args.variants else ("full",)
    by_variant: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    runs = by_variant["full"]
    for i in range(args.repeats):
        for variant in variants:  # interleaved: a slower minute of the machine hits them all
            with tempfile.TemporaryDirectory(prefix="bench-small-") as work:
                row = one_run(args.root.resolve(), args.data.resolve(), Path(work), variant)
            by_variant[variant].append(row)
            print(
                f"run {i + 1} {variant}: wall {row['wall_s']:.2f} s, stage CPU "
                f"{row['stage_cpu_s']:.2f} s, ratio {row['ratio']:.2f} "
                f"(load {row['load_1min_before']:.2f})",
                flush=True,
            )
    imports = library_import_cpu(args.root.resolve())
    for row in runs:
        row["library_import_cpu_s"] = imports
        row["ratio_without_imports"] = row["wall_s"] / (
            (row["stage_cpu_s"] - CORES * imports) / CORES
        )
    variant_medians = {
        variant: {
            k: statistics.median(r[k] for r in rows) for k in rows[0] if all(k in r for r in rows)
        }
        for variant, rows in by_variant.items()
    }
    median = variant_medians["full"]
    record = {
        "meta": describe(),
        "root": str(args.root.resolve()),
        "workload": "opus 6/16/32/64 kbps x (2 ESC-50 + 2 LibriSpeech clips), --jobs 2, report",
        "runs": runs,
        "median": median,
        "variants": {v: {"runs": by_variant[v], "median": variant_medians[v]} for v in variants},
        "target_ratio": TARGET,
        "met": median["ratio"] <= TARGET,
    }
    print("\nmedian:", json.dumps({k: round(v, 3) for k, v in median.items()}, indent=1))
    for variant in variants[1:]:
        print(f"{variant}: median ratio {variant_medians[variant]['ratio']:.3f}")
    print(
        f"ratio {median['ratio']:.2f} (target <= {TARGET}): {'met' if record['met'] else 'NOT met'}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"small-run-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written: {path}")
    return 0 if record["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
