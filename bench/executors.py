"""Where jobs run: local worker processes, or a Dask cluster.

Both executors take a list of :class:`~bench.jobs.Job` and call ``on_result(job, index,
fields, scores)`` for every point, in the main process, as results arrive; the caller stores
them. Neither lets one point's failure stop the others.

The local executor runs its own pool of worker processes, each with a pipe, rather than
``concurrent.futures``: a worker that crashes (a segfault in a codec library) or a point
that hangs past its timeout only costs that point. The worker is replaced and the clip's
remaining points go on. When no job is left to hand out, an idle worker takes the second half
of the not-yet-started points of the busiest worker's clip (it loads the clip and prepares its
references again: a small cost next to a worker sitting idle at the end of the run). With Dask,
the cluster retries a job whose worker died; a job that still fails is recorded as failed for
all its points.

Workers are forked where that is safe (Linux, a main process with one thread: see
:func:`worker_start_method`), so a worker starts in milliseconds with the main process's
modules (numpy, the suite) already imported, instead of a fresh interpreter importing them
again (about 0.2 CPU s a worker). Anywhere else, and with ``BENCH_WORKER_START=spawn``, they are
spawned.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from bench.errors import BenchError
from bench.jobs import (
    WORKER_ENV,
    Job,
    WorkerSetup,
    error_fields,
    run_job,
    run_job_collect,
    setup_worker,
)

OnResult = Callable[[Job, int, dict[str, Any], dict[str, Any]], None]
OnClip = Callable[[Job, dict[str, float]], None]

#: A job whose setup (loading, reference preparation) kills its worker is tried this often.
SETUP_ATTEMPTS = 2
#: Workers that die before finishing start-up, in a row, before the run gives up.
STARTUP_FAILURES = 3
#: Seconds a worker may take to start (imports, plug-ins) before it counts as failed.
STARTUP_TIMEOUT_S = 300.0
#: Environment variable: ``spawn`` starts every worker as a fresh interpreter, never a fork.
START_ENV = "BENCH_WORKER_START"


def worker_start_method() -> str:
    """``"fork"`` where forking this process now is safe, else ``"spawn"``.

    Safe means: Linux, ``BENCH_WORKER_START`` is not ``spawn``, and this process has exactly one
    thread, counted by the kernel (``/proc/self/task``), not only Python's: a fork copies every
    lock but only the calling thread, so another thread holding a lock (an import in progress, a
    BLAS pool, a progress bar's monitor) could leave the child waiting forever. The command
    line keeps numpy's BLAS to one thread in the main process for this (:mod:`bench.cli`), which
    needs no BLAS threads; a program that imports the suite with a threaded BLAS gets spawned
    workers.
    """
    if os.environ.get(START_ENV, "").strip().lower() == "spawn":
        return "spawn"
    if not sys.platform.startswith("linux") or "fork" not in mp.get_all_start_methods():
        return "spawn"
    if threading.active_count() != 1:
        return "spawn"
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return "spawn"
    return "fork" if threads == 1 else "spawn"


#: The main process's ends of its workers' pipes. A forked worker closes its copies of the
#: others' ends, so that a worker still sees its pipe close when the main process closes it.
_PARENT_ENDS: set[Connection] = set()


def _worker_main(conn: Connection, setup: WorkerSetup) -> None:
    """Worker process: take jobs from the pipe until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    for other in list(_PARENT_ENDS):  # only non-empty in a forked worker
        with contextlib.suppress(OSError):
            other.close()
    _PARENT_ENDS.clear()
    _die_with_parent()
    setup_worker(setup)
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            _exit_now()
        if isinstance(job, tuple):  # a cut that arrived after its job ended: nothing to do
            continue
        control = _Control(conn, job)
        run_job(job, conn.send, control.stop_before)
        if control.closing:
            _exit_now()
        conn.send(("done", job.job_id))


def _exit_now() -> None:
    """Leave at once when told to stop: every result has been sent, and the interpreter's
    normal teardown (finalising numba, onnxruntime, torch, ...) takes a worker about 0.4 s
    that a short run would wait for."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(0)


class _Control:
    """Messages the main process sends a worker during a job: ``("cut", job_id, index)`` (the
    points from ``index`` on went to another worker) or ``None`` (stop)."""

    def __init__(self, conn: Connection, job: Job) -> None:
        self.conn, self.job_id = conn, job.job_id
        self.cut = len(job.points)
        self.closing = False

    def stop_before(self) -> int:
        while not self.closing and self.conn.poll():
            message = self.conn.recv()
            if message is None:
                self.closing = True
            elif message[0] == "cut" and message[1] == self.job_id:
                self.cut = min(self.cut, message[2])
        return 0 if self.closing else self.cut


def _die_with_parent() -> None:
    """Have the kernel kill this worker when the main process dies, even by ``kill -9``: a
    worker stuck in a codec would otherwise run on as an orphan (Linux only; elsewhere a
    worker notices at its next message)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    parent = mp.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the call above
        os._exit(1)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: Job | None = None
    index: int | None = None  # point in progress
    since: float = 0.0  # when the job or the point in progress began
    done: set[int] = field(default_factory=set)
    ready: bool = False  # finished its start-up (imports, plug-ins)
    cut: int | None = None  # points from here on were handed to another worker

    def limit(self) -> int:
        """End (exclusive) of the points of the current job this worker still owns."""
        assert self.job is not None
        return len(self.job.points) if self.cut is None else self.cut

    def next_index(self) -> int:
        """The first point of the current job it has not started (points run in order)."""
        if self.index is not None:
            return self.index + 1
        return max(self.done) + 1 if self.done else 0


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "killed"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit status {exitcode}"


class LocalExecutor:
    """A pool of ``jobs`` worker processes with per-point timeouts and crash recovery."""

    name = "local"

    def __init__(self, jobs: int, setup: WorkerSetup, timeout_s: float) -> None:
        self.jobs = max(1, int(jobs))
        self.setup = setup
        self.timeout_s = timeout_s
        self.restarts = 0
        self.started: dict[str, int] = {}  # workers started, by start method
        self.steals = 0  # jobs split to keep an idle worker busy
        self._spare: list[_Worker] = []  # started by prestart(), not yet given work
        self._leaving: list[_Worker] = []  # told to stop by run(), not yet waited for

    def forks(self) -> bool:
        """Whether a worker started now would be forked (see :func:`worker_start_method`)."""
        return worker_start_method() == "fork"

    def prestart(self, count: int) -> None:
        """Start up to ``count`` workers now (at most ``jobs``), so that their start-up
        (a spawned interpreter's imports and plug-ins: about half a second) overlaps the
        caller's planning, or so that they are forked before the caller starts a thread;
        :meth:`run` uses them first, and :meth:`close` stops any it did not need."""
        while len(self._spare) < min(self.jobs, count):
            self._spare.append(self._start())

    def close(self) -> None:
        """Wait for the workers :meth:`run` told to stop (killed if one has not exited within
        2 s), and stop the workers :meth:`prestart` started that no run took: they have done no
        work and hold nothing, so they are killed rather than waited for (one may still be
        importing)."""
        leaving, self._leaving = self._leaving, []
        for worker in leaving:
            self._stop(worker)
        spare, self._spare = self._spare, []
        for worker in spare:
            if worker.process.is_alive():
                worker.process.kill()
        for worker in spare:
            worker.process.join(2)
            _close(worker.conn)

    def _start(self) -> _Worker:
        method = worker_start_method()
        context = mp.get_context(method)
        parent, child = context.Pipe()
        process = context.Process(
            target=_worker_main, args=(child, self.setup), daemon=True, name="bench-worker"
        )
        if method == "fork":
            # A forked child inherits unwritten output and would write it a second time.
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    stream.flush()
        # Before the start: a forked worker closes every main-process end, its own included.
        _PARENT_ENDS.add(parent)
        # Thread limits must be in the environment the child starts with: a spawned child's
        # numpy (OpenBLAS) reads them when it is first imported, before any code of ours runs
        # there; numba and torch read them when a forked child first imports them.
        saved = {name: os.environ.get(name) for name, _ in (*WORKER_ENV, *self.setup.env)}
        os.environ.update(dict((*WORKER_ENV, *self.setup.env)))
        try:
            process.start()
        except BaseException:
            _close(parent)
            child.close()
            raise
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        child.close()
        self.started[method] = self.started.get(method, 0) + 1
        return _Worker(process, parent)

    def run(self, jobs: list[Job], on_result: OnResult, on_clip: OnClip | None = None) -> None:
        """Run ``jobs``; return when every point has a result. ``on_clip`` receives each clip's
        preparation timings. The workers are told to stop on return; :meth:`close` waits for
        them."""
        self._on_clip = on_clip
        queue: deque[Job] = deque(jobs)
        attempts: dict[int, int] = {}
        startup_failures = 0
        next_id = max((job.job_id for job in jobs), default=0) + 1
        # Up to one worker per point, not per job: idle workers take over parts of long jobs.
        points = sum(len(job.points) for job in jobs)
        wanted = min(self.jobs, points)
        workers, self._spare = self._spare[:wanted], self._spare[wanted:]
        self.close()  # prestarted workers beyond what these jobs need
        workers += [self._start() for _ in range(wanted - len(workers))]
        try:
            while queue or any(w.job is not None for w in workers):
                for worker in workers:
                    if worker.job is not None:
                        continue
                    job = queue.popleft() if queue else self._steal(workers, next_id)
                    if job is None:
                        continue
                    next_id = max(next_id, job.job_id + 1)
                    worker.job, worker.index, worker.done = job, None, set()
                    worker.cut, worker.since = None, time.monotonic()
                    worker.conn.send(job)
                busy = [w for w in workers if w.job is not None]
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], 0.5)
                for worker in busy:
                    failure = None
                    if worker.conn in ready or worker.conn.poll():
                        try:
                            while worker.conn.poll():
                                self._handle(worker, worker.conn.recv(), on_result)
                        except (EOFError, OSError):
                            failure = "crash"
                    if failure is None and worker.job is not None:
                        limit = self.timeout_s if worker.ready else STARTUP_TIMEOUT_S
                        if not worker.process.is_alive():
                            failure = "crash"
                        elif time.monotonic() - worker.since > limit:
                            failure = "timeout"
                    if failure is None or worker.job is None:
                        continue
                    if not worker.ready:  # died starting up: not the job's fault
                        startup_failures += 1
                        if startup_failures >= STARTUP_FAILURES:
                            raise BenchError(
                                "worker processes keep dying while starting "
                                f"({_signal_name(worker.process.exitcode)}); see the messages "
                                "above, or try --jobs 1"
                            )
                        queue.appendleft(worker.job)
                        self._stop(worker)
                        workers[workers.index(worker)] = self._start()
                        continue
                    startup_failures = 0
                    retry = self._fail(worker, failure, on_result, attempts, next_id)
                    if retry is not None:
                        queue.appendleft(retry)
                        next_id += 1
                    workers[workers.index(worker)] = self._start()
                    self.restarts += 1
        finally:
            # Tell every worker now; wait for them in close(): they exit while the caller goes
            # on (a worker's exit, unmapping its libraries, takes some 10-30 ms).
            for worker in workers:
                self._ask_to_stop(worker)
            self._leaving += workers

    def _steal(self, workers: list[_Worker], job_id: int) -> Job | None:
        """The second half of the unstarted points of the busiest worker, as a new job (or
        None when no worker has two or more points left to start)."""
        victim, most = None, 1
        for worker in workers:
            if worker.job is not None:
                left = worker.limit() - worker.next_index()
                if left > most:
                    victim, most = worker, left
        if victim is None:
            return None
        assert victim.job is not None
        end = victim.limit()
        victim.cut = end - most // 2
        try:
            victim.conn.send(("cut", victim.job.job_id, victim.cut))
        except OSError:  # it just died: the crash handling re-queues its points
            victim.cut = end
            return None
        self.steals += 1
        return remap(job_id, victim.job, list(range(victim.cut, end)))

    def _handle(self, worker: _Worker, event: tuple, on_result: OnResult) -> None:
        kind = event[0]
        if kind == "ready":
            worker.ready = True
            worker.since = time.monotonic()
        elif kind == "clip":
            if self._on_clip is not None and worker.job is not None:
                self._on_clip(worker.job, event[2])
        elif kind == "start":
            worker.index, worker.since = event[2], time.monotonic()
        elif kind == "result":
            _, _, index, fields, scores = event
            worker.done.add(index)
            worker.index = None
            worker.since = time.monotonic()
            assert worker.job is not None
            # A point past the cut was started before the worker read the cut: the worker
            # that took it over reports it, so each point is reported exactly once.
            if index < worker.limit():
                on_result(worker.job, index, fields, scores)
        elif kind == "done":
            worker.job, worker.index, worker.cut = None, None, None

    def _fail(
        self,
        worker: _Worker,
        failure: str,
        on_result: OnResult,
        attempts: dict[int, int],
        next_id: int,
    ) -> Job | None:
        """Record the failed point (or job) and return what is left to retry."""
        job = worker.job
        assert job is not None
        process = worker.process
        if process.is_alive():
            process.kill()
        process.join(5)
        if failure == "timeout":
            message = f"timed out after {self.timeout_s:g} s (worker stopped)"
        else:
            message = f"worker process died ({_signal_name(process.exitcode)})"
        limit = worker.limit()
        worker.job = None
        if worker.index is not None:  # a point was running: it alone fails
            if worker.index < limit:  # (past the cut, another worker has it)
                on_result(job, worker.index, error_fields(message, failure), {})
            worker.done.add(worker.index)
        else:  # died loading the clip or preparing the reference: retry the job once
            tries = attempts.get(job.job_id, 0) + 1
            if tries >= SETUP_ATTEMPTS:
                message = f"{message} while loading the clip or preparing its reference"
                for index in range(limit):
                    if index not in worker.done:
                        on_result(job, index, error_fields(message, failure), {})
                return None
            attempts[next_id] = tries
        rest = [i for i in range(limit) if i not in worker.done]
        return remap(next_id, job, rest) if rest else None

    @staticmethod
    def _ask_to_stop(worker: _Worker) -> None:
        try:
            if worker.process.is_alive():
                worker.conn.send(None)
        except (OSError, BrokenPipeError):
            pass

    @staticmethod
    def _stop(worker: _Worker) -> None:
        try:
            if worker.process.is_alive():
                worker.conn.send(None)
                worker.process.join(2)
        except (OSError, BrokenPipeError):
            pass
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(2)
        _close(worker.conn)


def _close(conn: Connection) -> None:
    _PARENT_ENDS.discard(conn)
    conn.close()


def remap(job_id: int, job: Job, indices: list[int]) -> Job:
    """A job of the points ``indices`` of ``job``.

    Points carry their own store keys, so results of the retry need no translation back to
    the original job's indices.
    """
    return Job(job_id, job.clip, tuple(job.points[i] for i in indices))


class DaskExecutor:
    """Runs jobs on a Dask cluster: ``scheduler`` address, or a LocalCluster on 127.0.0.1."""

    name = "dask"

    def __init__(
        self, jobs: int, setup: WorkerSetup, timeout_s: float, scheduler: str | None = None
    ) -> None:
        self.jobs = max(1, int(jobs))
        self.setup = setup
        self.timeout_s = timeout_s
        self.scheduler = scheduler
        self.restarts = 0

    def run(self, jobs: list[Job], on_result: OnResult, on_clip: OnClip | None = None) -> None:
        """Submit every job; record results as futures complete."""
        try:
            from distributed import Client, LocalCluster, as_completed
        except ImportError as exc:
            raise BenchError(
                "--executor dask needs dask.distributed: pip install 'namc-bench[dask]'"
            ) from exc
        cluster = None
        if self.scheduler:
            client = Client(self.scheduler)
        else:
            cluster = LocalCluster(
                n_workers=self.jobs,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                env=dict(WORKER_ENV) | dict(self.setup.env),
            )
            client = Client(cluster)
        try:
            futures = {
                client.submit(run_job_collect, job, self.setup, pure=False): job for job in jobs
            }
            for future in as_completed(futures):
                job = futures[future]
                try:
                    events = future.result()
                except Exception as exc:
                    message = f"dask job failed: {type(exc).__name__}: {exc}"
                    for index in range(len(job.points)):
                        on_result(job, index, error_fields(message, "crash"), {})
                    continue
                for event in events:
                    if event[0] == "clip":
                        if on_clip is not None:
                            on_clip(job, event[2])
                    else:
                        _, _, index, fields, scores = event
                        on_result(job, index, fields, scores)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(
    name: str, jobs: int, setup: WorkerSetup, timeout_s: float, scheduler: str | None = None
) -> LocalExecutor | DaskExecutor:
    """The executor called ``name`` (``local`` or ``dask``)."""
    if name == "local":
        if scheduler:
            raise BenchError("--scheduler needs --executor dask")
        return LocalExecutor(jobs, setup, timeout_s)
    if name == "dask":
        return DaskExecutor(jobs, setup, timeout_s, scheduler)
    from bench.errors import UnknownNameError

    raise UnknownNameError(f"unknown executor {name!r}; valid: dask, local")
