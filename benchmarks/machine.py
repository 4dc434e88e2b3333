"""Where a benchmark was measured: one description for every script's JSON record.

The scripts compare their figures across records (``bench_pipeline.py`` embeds the NAMC and
metrics records), so they describe the machine, the commit and the libraries the same way:
the git state as ``run.json`` reports it (``bench.runner._git_commit``: untracked files do not
make a tree dirty) and the library versions from ``bench.runner.library_versions``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe(extra_libraries: Sequence[str] = ()) -> dict[str, Any]:
    """Date, machine, load, Python, git commit, library versions and command line.

    ``extra_libraries`` are recorded beside the suite's own list (``bench.runner.LIBRARIES``).
    The load average is kept because other work on the machine inflates timings.
    """
    from bench.runner import LIBRARIES, _git_commit, library_versions

    names = tuple(dict.fromkeys((*LIBRARIES, *extra_libraries)))
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "git": _git_commit(),
        "libraries": library_versions(names),
        "command": sys.argv,
    }


def write_record(folder: Path, prefix: str, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``folder/<prefix><UTC time, e.g. 20261202T170000Z>.json``, atomically
    (a record cut short by a crash is never left to be compared); return its path."""
    from bench.fsutil import atomic_write_text

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = Path(folder) / f"{prefix}{stamp}.json"
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")  # (makes the folder)
    return path
