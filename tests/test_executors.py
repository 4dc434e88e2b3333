"""The local executor's work sharing: an idle worker takes the end of a busy worker's clip.

A plug-in codec that sleeps in ``encode`` makes one clip's points slow enough that the second
worker runs out of jobs while the first still has most of the clip to do; every point must
then be reported exactly once, and some by each worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import executors
from bench.datasets import load_clips
from bench.executors import LocalExecutor
from bench.jobs import Job, Point, WorkerSetup
from tests.conftest import ROOT

SLOW = """
import os
import time

import numpy as np

from bench.audio import Audio
from bench.codecs.base import Bitrates, Codec, Encoded
from bench.codecs import register_codec


@register_codec
class Slow(Codec):
    name = "t-slow"
    bitrates = Bitrates(ladder=tuple(range(1, 13)))

    def encode(self, audio, kbps):
        time.sleep(0.15)
        data = audio.to_pcm16().tobytes()
        return Encoded(data, len(data), audio.duration, kbps, params={"pid": os.getpid()})

    def decode(self, data):
        return Audio.from_pcm(np.frombuffer(data, "<i2"), 16000)
"""


@pytest.fixture()
def setup(tmp_path: Path) -> WorkerSetup:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text(textwrap.dedent(SLOW))
    return WorkerSetup(plugin_dirs=(str(plugins),))


def one_clip_job(folder: Path, points: int) -> Job:
    folder.mkdir()
    t = np.arange(4000) / 16000
    sf.write(folder / "a.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    (clip,) = load_clips(f"folder={folder}")
    return Job(0, clip, tuple(Point(f"k{i}", "t-slow", i + 1, ()) for i in range(points)))


def test_an_idle_worker_takes_over_the_end_of_a_long_job(
    setup: WorkerSetup, tmp_path: Path
) -> None:
    job = one_clip_job(tmp_path / "clips", 12)
    seen: Counter[str] = Counter()
    pids: dict[str, int] = {}

    def on_result(job: Job, index: int, fields: dict, scores: dict) -> None:
        point = job.points[index]
        assert fields["status"] == "ok", fields
        seen[point.key] += 1
        pids[point.key] = fields["params"]["pid"]

    executor = LocalExecutor(2, setup, timeout_s=60)
    executor.run([job], on_result)
    assert seen == Counter({p.key: 1 for p in job.points})  # each exactly once
    assert executor.steals >= 1
    assert len(set(pids.values())) == 2  # both workers computed some of the clip
    assert os.getpid() not in pids.values()


def test_with_one_worker_nothing_is_split(setup: WorkerSetup, tmp_path: Path) -> None:
    job = one_clip_job(tmp_path / "clips", 4)
    seen: Counter[str] = Counter()
    executor = LocalExecutor(1, setup, timeout_s=60)
    executor.run([job], lambda job, index, fields, scores: seen.update([job.points[index].key]))
    assert seen == Counter({p.key: 1 for p in job.points})
    assert executor.steals == 0


def test_a_cut_arriving_after_its_job_ended_is_ignored(setup: WorkerSetup, tmp_path: Path) -> None:
    """The main process may cut a job the worker has just finished; the stale message must not
    be taken for the next job."""
    job = one_clip_job(tmp_path / "clips", 2)
    executor = LocalExecutor(1, setup, timeout_s=60)
    worker = executor._start()
    try:
        worker.conn.send(("cut", 41, 0))  # for a job that is over
        worker.conn.send(job)
        events = []
        while not events or events[-1][0] != "done":
            assert worker.conn.poll(60), events
            events.append(worker.conn.recv())
        assert [e[2] for e in events if e[0] == "result"] == [0, 1]
    finally:
        executor._stop(worker)


def test_prestarted_workers_do_the_work_and_leave_when_told(
    setup: WorkerSetup, tmp_path: Path
) -> None:
    """prestart() spawns the workers run() then uses (no others are started); they are told
    to stop when the run ends, close() waits for them and kills spares no run took."""
    job = one_clip_job(tmp_path / "clips", 4)
    executor = LocalExecutor(2, setup, timeout_s=60)
    executor.prestart(5)  # at most `jobs` workers
    prestarted = {w.process.pid for w in executor._spare}
    assert len(prestarted) == 2
    pids: set[int] = set()
    executor.run([job], lambda job, index, fields, scores: pids.add(fields["params"]["pid"]))
    assert pids and pids <= prestarted
    assert executor._spare == []
    leaving = list(executor._leaving)
    assert {w.process.pid for w in leaving} == prestarted
    executor.close()
    assert executor._leaving == [] and all(w.process.exitcode == 0 for w in leaving)
    for pid in prestarted:  # gone (exited by themselves and reaped), not left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    spare = LocalExecutor(2, setup, timeout_s=60)
    spare.prestart(1)
    (worker,) = spare._spare
    spare.close()
    assert not worker.process.is_alive() and spare._spare == []


def test_workers_are_spawned_when_asked_or_when_another_thread_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fork copies only the calling thread (and every lock): it is chosen for a process with
    one thread only, counted by the kernel, and never with BENCH_WORKER_START=spawn."""
    monkeypatch.setattr(executors.threading, "active_count", lambda: 1)
    monkeypatch.setattr(executors.os, "listdir", lambda path: ["1"])
    assert executors.worker_start_method() == ("fork" if sys.platform == "linux" else "spawn")
    monkeypatch.setenv(executors.START_ENV, "spawn")
    assert executors.worker_start_method() == "spawn"
    monkeypatch.delenv(executors.START_ENV)
    monkeypatch.setattr(executors.os, "listdir", lambda path: ["1", "2"])  # e.g. a BLAS pool
    assert executors.worker_start_method() == "spawn"
    monkeypatch.setattr(executors.os, "listdir", lambda path: ["1"])
    monkeypatch.setattr(executors.threading, "active_count", lambda: 2)  # a Python thread
    assert executors.worker_start_method() == "spawn"


FORKED = """
import json, os, sys
import numpy  # with OPENBLAS_NUM_THREADS=1: no BLAS pool thread, so the workers are forked
from bench.executors import LocalExecutor
from bench.jobs import WorkerSetup

def socket_inodes(pid):
    folder = f"/proc/{pid}/fd"
    found = set()
    for name in os.listdir(folder):
        try:
            target = os.readlink(os.path.join(folder, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found

executor = LocalExecutor(3, WorkerSetup(plugin_dirs=(sys.argv[1],)), timeout_s=60)
executor.prestart(3)
for worker in executor._spare:
    assert worker.conn.poll(60) and worker.conn.recv() == ("ready",)
parent_ends = {os.fstat(w.conn.fileno()).st_ino for w in executor._spare}
held = [sorted(socket_inodes(w.process.pid) & parent_ends) for w in executor._spare]
print(json.dumps({"started": executor.started, "held": held}))
executor.close()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="forked workers are a Linux feature")
def test_forked_workers_hold_none_of_the_main_process_pipe_ends(tmp_path: Path) -> None:
    """Each forked worker closes its copies of the main process's pipe ends (its own and the
    workers' started before it), so closing a pipe in the main process reaches its worker."""
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "no-plugins")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["started"] == {"fork": 3}
    assert report["held"] == [[], [], []]
