"""``kill -9`` of the main process at random moments (issue 8, item 2).

``tests/test_runner.py`` kills the whole process group at three fixed progress points. Here
only the main process is killed, as a crash or the OOM killer would, at seeded random moments
of a run's whole life: start-up, planning, computing, writing the report. After each kill its
workers must go away on their own (no orphan keeps a core busy), and the same command run
again must end with exactly the rows of an uninterrupted run, computing only what is missing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import soundfile as sf

from tests.conftest import ROOT, VOLATILE_COLUMNS

ARGS = ("--codecs", "opus,mp3,flac", "--bitrates", "16,32", "--metrics", "snr,si_sdr,lsd",
        "--jobs", "2", "--examples", "1")  # fmt: skip
POINTS = 12 * 5  # clips x (opus 2 + mp3 2 + flac)
#: Seeded: a failure names its moment and can be replayed.
SEED, TRIALS = 20240, 4


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kill") / "clips"
    folder.mkdir()
    rng = np.random.default_rng(11)
    t = np.arange(2 * 44100) / 44100
    for i in range(12):
        tone = 0.3 * np.sin(2 * np.pi * (330 + 70 * i) * t) + 0.03 * rng.standard_normal(t.size)
        sf.write(folder / f"clip{i}.wav", tone.astype(np.float32), 44100, subtype="PCM_16")
    return folder


def command(clips: Path, root: Path) -> list[str]:
    out, cache = root / "reports" / "run", root / "cache.sqlite"
    return [sys.executable, "run_bench.py", *ARGS, "--datasets", f"folder={clips}",
            "--out", str(out), "--cache", str(cache)]  # fmt: skip


def results(root: Path) -> pd.DataFrame:
    table = pd.read_csv(root / "reports" / "run" / "results.csv", keep_default_na=False,
                        na_values=[""])  # fmt: skip
    table = table.sort_values(["clip_id", "codec", "target_kbps"]).reset_index(drop=True)
    return table.drop(columns=VOLATILE_COLUMNS)


@pytest.fixture(scope="module")
def uninterrupted(
    clips: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[float, pd.DataFrame]:
    root = tmp_path_factory.mktemp("whole")
    started = time.monotonic()
    subprocess.run(command(clips, root), cwd=ROOT, check=True, capture_output=True, timeout=600)
    return time.monotonic() - started, results(root)


def stored_points(cache: Path) -> int:
    if not cache.exists():
        return 0
    with sqlite3.connect(cache, timeout=30) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        try:
            return int(db.execute("SELECT COUNT(*) FROM points").fetchone()[0])
        except sqlite3.OperationalError:  # killed before the tables were made
            return 0


def test_kill_9_of_the_main_process_at_random_moments_then_rerun(
    clips: Path, tmp_path: Path, uninterrupted: tuple[float, pd.DataFrame]
) -> None:
    duration, expected = uninterrupted
    rng = random.Random(SEED)
    moments = sorted(rng.uniform(0.05, 0.95) * duration for _ in range(TRIALS))
    for trial, moment in enumerate(moments):
        root = tmp_path / f"trial{trial}"
        proc = subprocess.Popen(command(clips, root), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        main = psutil.Process(proc.pid)
        deadline = time.monotonic() + moment
        children: set[psutil.Process] = set()
        while time.monotonic() < deadline and proc.poll() is None:
            try:  # remember every child the main process had, up to the kill
                children.update(main.children(recursive=True))
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        where = f"trial {trial}: kill at {moment:.2f} s of {duration:.2f} s"
        # The orphans notice the closed pipe and leave (at most one point's work later).
        _, alive = psutil.wait_procs(list(children), timeout=20)
        assert not alive, f"{where}: workers left running: {alive}"

        kept = stored_points(root / "cache.sqlite")
        print(f"{where}: {'killed' if killed else 'finished first'}, {kept} points stored")
        rerun = subprocess.run(command(clips, root), cwd=ROOT, capture_output=True, text=True,
                               timeout=600)  # fmt: skip
        assert rerun.returncode == 0, f"{where}\n{rerun.stdout}{rerun.stderr}"
        meta = json.loads((root / "reports" / "run" / "run.json").read_text())
        assert meta["status"] == "complete", where
        assert meta["computed"] == POINTS - kept, (where, kept, meta["computed"])
        pd.testing.assert_frame_equal(results(root), expected, check_exact=True, obj=where)


HANGS = """
import time

from bench.codecs import register_codec
from bench.codecs.base import Bitrates, Codec


@register_codec
class Hangs(Codec):
    name = "t-hangs-forever"
    bitrates = Bitrates(ladder=(8,), allowed=(8,))

    def encode(self, audio, kbps):
        time.sleep(3600)  # a codec library stuck in a loop

    def decode(self, data):
        raise AssertionError("never reached")
"""


@pytest.mark.parametrize("start", ["auto", "spawn"])
def test_a_worker_stuck_in_a_codec_dies_with_the_main_process(
    clips: Path, tmp_path: Path, start: str
) -> None:
    """Forked (the default on Linux) or spawned, a worker dies with its killed main process."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hangs.py").write_text(HANGS)
    proc = subprocess.Popen(
        [sys.executable, "run_bench.py", "--codecs", "t-hangs-forever", "--metrics", "snr",
         "--jobs", "1", "--datasets", f"folder={clips}", "--out", str(tmp_path / "run"),
         "--cache", str(tmp_path / "cache.sqlite"), "--no-report"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "BENCH_CODECS_DIR": str(plugins), "BENCH_WORKER_START": start},
    )  # fmt: skip
    main = psutil.Process(proc.pid)
    deadline = time.monotonic() + 120
    workers: list[psutil.Process] = []
    while not workers:  # wait until the worker is inside the hanging encode
        assert time.monotonic() < deadline and proc.poll() is None, "the run did not start"
        time.sleep(0.2)
        # A spawned worker runs multiprocessing's spawn_main; a forked one has the main
        # process's own command line.
        workers = [
            p
            for p in main.children()
            if any("spawn_main" in a for a in p.cmdline()) or p.cmdline() == main.cmdline()
        ]
    time.sleep(3)  # imports done, the point started: the worker sleeps in encode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    for orphan in alive:
        orphan.kill()
    assert not alive, "a worker stuck in a codec outlived the killed main process"
