"""Units of work and what a worker does with them.

A :class:`Job` is one clip and the points (codec, bitrate, metrics) still missing for it. The
worker loads the clip once, prepares every metric's reference side once, then encodes, decodes,
checks and scores each point, reporting events as it goes::

    ("clip", job_id, timings)                 # clip loaded and references prepared (CPU seconds)
    ("start", job_id, index)                  # point `index` begins (for timeouts and crashes)
    ("result", job_id, index, fields, scores) # point finished (ok or error)

Failures are data: an exception becomes a result with ``status="error"``, an ``error`` message
and an ``error_kind`` (``input``, ``codec``, ``internal``; the executor adds ``timeout`` and
``crash``). Nothing a codec or a file does stops the other points.

Listening examples: where the runner asks for them (``Job.original``, ``Point.example``), the
worker also keeps the clip and each ok point's decoded audio as the 16-bit WAV the report plays,
so the main process need not encode them again. That output work is timed apart from the stages
(``examples_cpu_s``).
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import AudioError, BenchError, CodecError

#: Emitted events: see the module docstring.
Event = tuple[Any, ...]
Emit = Callable[[Event], None]

#: score tuple: (value, reason, detail, seconds)
Score = tuple[float, str, str, float | None]


@dataclass(frozen=True)
class Point:
    """One codec setting applied to a job's clip."""

    key: str
    codec: str
    kbps: float | None
    #: (metric name, store key of that metric's version): only the missing ones are listed.
    metrics: tuple[tuple[str, str], ...]
    #: Where to keep the decoded audio as a listening example when the point is ok; "": not.
    example: str = ""


@dataclass(frozen=True)
class Job:
    """A clip and the points to compute for it."""

    job_id: int
    clip: Any  # bench.datasets.Clip (picklable description, no samples)
    points: tuple[Point, ...]
    #: Where to keep the clip itself as a listening example's original; "": not.
    original: str = ""


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker process needs before its first job."""

    plugin_dirs: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


#: Environment for worker processes: one thread each, so N workers use N cores and numba's
#: threading layer (not thread-safe) is never shared.
WORKER_ENV = (
    ("NUMBA_NUM_THREADS", "1"),
    ("OMP_NUM_THREADS", "1"),
    ("OPENBLAS_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
)

_setup_done: WorkerSetup | None = None


def setup_worker(setup: WorkerSetup) -> None:
    """Prepare this process for jobs (idempotent): environment, threads, codec plug-ins."""
    global _setup_done
    if _setup_done == setup:
        return
    # Normally already in the environment the worker was started with (see executors); set
    # again for executors that cannot do that (Dask workers started elsewhere). torch reads
    # OMP_NUM_THREADS when it is imported, so it is not imported here (1.8 s) just to set it.
    for name, value in (*WORKER_ENV, *setup.env):
        os.environ.setdefault(name, value)
    from bench.codecs import load_plugins

    load_plugins([Path(d) for d in setup.plugin_dirs] or None)
    _setup_done = setup


def error_fields(message: str, kind: str) -> dict[str, Any]:
    """Fields of a failed point."""
    return {"status": "error", "error": message, "error_kind": kind}


def _describe(exc: BaseException) -> tuple[str, str]:
    """(message, kind) for an exception raised while working on a point."""
    if isinstance(exc, AudioError):
        return str(exc), "input"
    if isinstance(exc, BenchError):
        return str(exc), "codec"
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}", "internal"


def run_job(job: Job, emit: Emit, stop_before: Callable[[], int] | None = None) -> None:
    """Do one job, emitting a ``result`` for every point (see the module docstring).

    ``stop_before``, asked before each point, gives the index of the first point this worker
    no longer owns (the local executor hands the end of a long job to an idle worker); the job
    ends there.
    """
    from bench.metrics import get_metric, prepare_reference

    start = time.process_time()
    try:
        audio = job.clip.load()
    except Exception as exc:  # every point of an unreadable clip fails the same way
        message, kind = _describe(exc)
        # Results are stored by content, and the same bytes may sit under several names: keep
        # the file's name out of the message (the row names the clip).
        message = message.removeprefix(f"{job.clip.source}: ")
        emit(("clip", job.job_id, {"load_cpu_s": time.process_time() - start}))
        for index in range(len(job.points)):
            emit(("result", job.job_id, index, error_fields(message, kind), {}))
        return
    loaded = time.process_time()
    timings = {"load_cpu_s": loaded - start}
    if job.original:
        timings["examples_cpu_s"] = keep_example(job.original, audio)
    names = sorted({name for point in job.points for name, _ in point.metrics})
    prepared = None
    prepare_start = time.process_time()
    if names:
        domain = getattr(job.clip, "domain", None)
        prepared = prepare_reference([get_metric(n) for n in names], audio, domain)
    timings["prepare_cpu_s"] = time.process_time() - prepare_start
    emit(("clip", job.job_id, timings))
    for index, point in enumerate(job.points):
        if stop_before is not None and index >= stop_before():
            return
        emit(("start", job.job_id, index))
        fields, scores = run_point(audio, prepared, point)
        emit(("result", job.job_id, index, fields, scores))


def run_point(audio: Any, prepared: Any, point: Point) -> tuple[dict[str, Any], dict[str, Score]]:
    """Encode, decode, check and score one point; never raises for the codec's sake."""
    from bench.align import measure_lag
    from bench.codecs import get_codec
    from bench.metrics import score_degraded

    cpu_start = time.process_time()
    try:
        codec = get_codec(point.codec)
        codec.check_input(audio, point.kbps)
        start = time.perf_counter()
        encoded = codec.encode(audio, point.kbps)
        middle = time.perf_counter()
        try:
            decoded = codec.decode(encoded.data)
        except AudioError as exc:  # NaN or empty output: the codec's fault, not the clip's
            raise CodecError(f"{codec.name} decoded invalid audio: {exc}") from None
        end = time.perf_counter()
        if (decoded.rate, decoded.frames, decoded.channels) != (
            audio.rate,
            audio.frames,
            audio.channels,
        ):
            raise BenchError(
                f"{codec.name} returned {decoded.channels} x {decoded.frames} frames at "
                f"{decoded.rate} Hz for {audio.channels} x {audio.frames} at {audio.rate} Hz"
            )
        lag, method = measure_lag(audio, decoded, waveform=codec.waveform)
    except Exception as exc:
        message, kind = _describe(exc)
        return error_fields(message, kind), {}
    fields: dict[str, Any] = {
        "status": "ok",
        "error": "",
        "error_kind": "",
        "actual_kbps": encoded.actual_kbps,
        "bytes": encoded.payload_bytes,
        "header_bytes": encoded.header_bytes,
        "container_bytes": encoded.container_bytes,
        "total_bytes": len(encoded.data),
        "duration_s": audio.duration,
        "sample_rate": audio.rate,
        "channels": audio.channels,
        "lag_samples": lag,
        "lag_method": method,
        "native_rate": encoded.params.get("native_rate"),
        "encode_s": middle - start,
        "decode_s": end - middle,
        "params": dict(encoded.params),
    }
    codec_cpu = time.process_time() - cpu_start
    if point.example:
        # Before scoring, so no metric can have touched the samples; timed apart from both.
        fields["examples_cpu_s"] = keep_example(point.example, decoded)
    metrics_cpu_start = time.process_time()
    scores: dict[str, Score] = {}
    metrics_start = time.perf_counter()
    if point.metrics and prepared is not None:
        wanted = dict(point.metrics)
        results = score_degraded(prepared, decoded)
        for name, result in results.items():
            if name in wanted:
                seconds = getattr(result, "seconds", None)
                scores[wanted[name]] = (
                    result.value,
                    result.reason or "",
                    result.detail or "",
                    seconds,
                )
    fields["metrics_s"] = time.perf_counter() - metrics_start
    fields["codec_cpu_s"] = codec_cpu
    fields["metrics_cpu_s"] = time.process_time() - metrics_cpu_start
    return fields, scores


def keep_example(path: str, audio: Any) -> float:
    """Write ``audio`` to ``path`` as the runner writes a listening example (16-bit WAV,
    atomically); return the CPU seconds spent.

    Only into a folder that exists (the runner creates it): a Dask worker on a machine that does
    not share the folder writes nothing. A failure is not the point's: the runner finds no file
    and encodes the example again itself, reporting any error there.
    """
    from bench.audio import save_audio

    start = time.process_time()
    target = Path(path)
    if target.parent.is_dir():
        with contextlib.suppress(Exception):
            save_audio(target, audio, subtype="PCM_16")
    return time.process_time() - start


def run_job_collect(job: Job, setup: WorkerSetup) -> list[Event]:
    """Run a job in this process and return its events (for executors without pipes: Dask)."""
    setup_worker(setup)
    events: list[Event] = []
    run_job(job, events.append)
    return [event for event in events if event[0] in ("result", "clip")]
