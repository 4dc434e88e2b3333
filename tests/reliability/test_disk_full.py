"""A full disk (issue 8, item 2): a clear one-line error, the results store intact, and a rerun
after space is freed that writes everything from the store.

The disk is filled inside a real run (a subprocess running ``python -m bench run``) at a chosen
moment: a small driver replaces :func:`bench.fsutil.atomic_write`, through which every output
file is written, with one whose writes fail with ENOSPC from the first write of a given file on,
as write(2) does on a full disk. Everything else is the real code path: the runner, the report
writer, the atomic writer's clean-up. The results store is filled with SQLite's own limit
(``max_page_count``), which fails exactly as a full disk does (SQLITE_FULL).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.conftest import ROOT

DISK_DRIVER = '''
import contextlib, errno, os, sys
from pathlib import Path

import bench.fsutil as fsutil

real_atomic_write = fsutil.atomic_write
name, nth = os.environ["DISK_FULL_AT"].rsplit(":", 1)
state = {"seen": 0, "full": False}


class FullDisk:
    """A file on a full disk: each write fails as write(2) does with ENOSPC."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, attr):
        return getattr(self._handle, attr)


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    if Path(path).name == name:
        state["seen"] += 1
        state["full"] = state["full"] or state["seen"] == int(nth)
    with real_atomic_write(path, mode) as handle:
        yield FullDisk(handle) if state["full"] else handle


fsutil.atomic_write = atomic_write

if __name__ == "__main__":
    from bench.cli import main

    sys.exit(main(["run", *sys.argv[1:]]))
'''

STORE_DRIVER = """
import os, sys

from bench.store import ResultStore

real_init = ResultStore.__init__


def full_init(self, path):
    real_init(self, path)
    # The disk is full from now on: the store cannot grow by a single page.
    pages = self._db.execute("PRAGMA page_count").fetchone()[0]
    self._db.execute(f"PRAGMA max_page_count={pages}")


ResultStore.__init__ = full_init

if __name__ == "__main__":
    from bench.cli import main

    sys.exit(main(["run", *sys.argv[1:]]))
"""


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 16000
    for i in range(6):
        tone = 0.3 * np.sin(2 * np.pi * (200 + 90 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i}.wav", tone.astype(np.float32), 16000, subtype="PCM_16")
    return folder


def args(clips: Path, root: Path, *extra: str) -> list[str]:
    return ["--codecs", "mulaw,flac,opus", "--bitrates", "12,16,24,64", "--metrics", "snr",
            "--jobs", "1", "--examples", "1", "--datasets", f"folder={clips}",
            "--out", str(root / "reports" / "run"), "--cache", str(root / "cache.sqlite"),
            *extra]  # fmt: skip


POINTS = 6 * (1 + 1 + 4)  # clips x (mulaw, flac, opus at 4 bitrates)


def run(argv: list[str], driver: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(driver)] if driver else [sys.executable, "-m", "bench", "run"]
    return subprocess.run(
        [*command, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


def stored(cache: Path) -> int:
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(db.execute("SELECT COUNT(*) FROM points").fetchone()[0])


def assert_one_line_error(proc: subprocess.CompletedProcess, *parts: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # progress lines come before it
    assert last.startswith("error: "), proc.stderr
    for part in parts:
        assert part in last, (part, last)
    return last


@pytest.mark.parametrize(
    "full_at",
    [
        "results.csv:1",  # the first output: nothing but the store holds the results
        "original.wav:1",  # a listening example (libsndfile writes it)
        "index.html:1",  # the report page, after its plots and tables
        "run.json:2",  # the final run.json (the first is written before the work starts)
    ],
)
def test_a_full_disk_while_writing_outputs_loses_no_result(
    clips: Path, tmp_path: Path, full_at: str
) -> None:
    driver = tmp_path / "disk_full_driver.py"
    driver.write_text(DISK_DRIVER)
    cache, out = tmp_path / "cache.sqlite", tmp_path / "reports" / "run"
    proc = run(args(clips, tmp_path), driver, DISK_FULL_AT=full_at)
    assert_one_line_error(
        proc, "No space left on device", f"safe in the results store {cache}",
        "run the same command again",
    )  # fmt: skip
    assert stored(cache) == POINTS  # every point was stored before any output was written
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers  # the atomic writer cleaned up its half-written files
    if full_at == "index.html:1":
        assert len(pd.read_csv(out / "results.csv")) == POINTS  # written before: complete

    # Space freed: the same command writes everything, from the store alone.
    again = run(args(clips, tmp_path))
    assert again.returncode == 0, again.stdout + again.stderr
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete" and meta["computed"] == 0 and meta["cached"] == POINTS
    table = pd.read_csv(out / "results.csv")
    assert len(table) == POINTS and (table["status"] == "ok").all()
    assert (out / "index.html").is_file() and (out.parent / "index.html").is_file()


def test_a_full_disk_under_the_results_store_stops_the_run_cleanly(
    clips: Path, tmp_path: Path
) -> None:
    driver = tmp_path / "store_full_driver.py"
    driver.write_text(STORE_DRIVER)
    cache = tmp_path / "cache.sqlite"
    proc = run(args(clips, tmp_path, "--no-report"), driver)
    assert_one_line_error(
        proc, f"cannot write to the results store {cache}", "database or disk is full",
        "every point stored before is kept",
    )  # fmt: skip
    kept = stored(cache)  # intact (integrity check), holding what fitted
    assert 0 < kept < POINTS

    again = run(args(clips, tmp_path, "--no-report"))
    assert again.returncode == 0, again.stdout + again.stderr
    meta = json.loads((tmp_path / "reports" / "run" / "run.json").read_text())
    assert meta["computed"] == POINTS - kept and meta["failed"] == 0
    assert stored(cache) == POINTS
