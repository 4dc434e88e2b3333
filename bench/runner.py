"""The main job: every clip x codec x bitrate, scored, stored, reported.

:func:`run_benchmark` builds the matrix of points, looks each one up in the results store,
sends what is missing to an executor (grouped per clip, so each clip is read and its metric
references prepared once), stores each result as it arrives, then writes ``results.csv``,
``summary.csv``, ``run.json``, listening examples and ``index.html`` from the store, so an
interrupted run started again ends with exactly the rows an uninterrupted run gives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bench import __version__
from bench.codecs import Codec, default_plugin_dirs, resolve_codecs
from bench.errors import BenchError
from bench.executors import LocalExecutor, make_executor
from bench.fsutil import atomic_write_text
from bench.jobs import Job, Point, WorkerSetup
from bench.store import ResultStore, stable_hash

#: Version of results.csv / run.json; bump when columns change meaning.
SCHEMA_VERSION = 1
#: Version of what the runner does to a point (alignment check, accounting); part of every key.
POINT_VERSION = "2"  # 2: decoder NaN is a codec error; MP3 input read with FFmpeg
#: Columns of results.csv that describe the clip and codec rather than the stored result.
_CLIP_COLUMNS = ("dataset", "clip_id", "domain", "synthetic", "protocol", "codec", "neural",
                 "backend", "target_kbps")  # fmt: skip
#: Worker stages whose CPU time run.json reports (sum = the work itself, without overheads).
STAGES = ("load_cpu_s", "prepare_cpu_s", "codec_cpu_s", "metrics_cpu_s")
#: Columns of results.csv before the metric columns, in order.
BASE_COLUMNS = (
    "dataset", "clip_id", "domain", "synthetic", "protocol", "codec", "neural", "backend",
    "target_kbps", "actual_kbps", "bytes", "header_bytes", "container_bytes", "total_bytes",
    "duration_s", "sample_rate", "channels", "native_rate", "lag_samples", "lag_method",
    "status", "error", "error_kind", "encode_s", "decode_s", "metrics_s", "cached",
)  # fmt: skip


@dataclass
class RunOptions:
    """Everything ``run`` was asked to do besides which clips."""

    codecs: str = "all"
    bitrates: Sequence[float] | None = None
    metrics: str | None = None
    jobs: int = 0
    executor: str = "local"
    scheduler: str | None = None
    out: Path | None = None
    cache: Path | None = None
    timeout_s: float | None = None
    strict: bool = False
    examples: int = 2
    fresh: bool = False
    report: bool = True
    command: Sequence[str] = ()
    reports_root: Path = Path("reports")


@dataclass
class RunOutcome:
    """What a finished run wrote and found."""

    out_dir: Path
    results: Any  # pandas.DataFrame
    points: int
    computed: int
    cached: int
    failed: int
    exit_status: int
    files: dict[str, Path] = field(default_factory=dict)


# -- keys ---------------------------------------------------------------------------------------
_FILE_HASHES: dict[tuple[str, int, int], str] = {}


def clip_content_key(clip: Any) -> str:
    """A key for what the clip's audio is, not where it lives: the file's SHA-256 with how the
    clip is prepared (protocol, cut); generated clips by their id and the generator version."""
    prep = {"protocol": clip.protocol, "max_seconds": clip.max_seconds, "kind": clip.kind}
    if clip.path is None:
        return stable_hash("generated", clip.key, __version__, prep)
    path = Path(clip.path)
    try:
        stat = path.stat()
    except OSError as exc:
        return stable_hash("unreadable", str(path), type(exc).__name__, prep)
    memo_key = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo_key not in _FILE_HASHES:
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            return stable_hash("unreadable", str(path), type(exc).__name__, prep)
        _FILE_HASHES[memo_key] = digest.hexdigest()
    return stable_hash("file", _FILE_HASHES[memo_key], prep)


def metric_key(metric: Any) -> str:
    """Store key of a metric at its current version."""
    return stable_hash("metric", metric.name, metric.version())


def point_key(content: str, codec: Codec, version: str, kbps: float | None) -> str:
    """Store key of one codec setting on one clip content. A whole-number bitrate hashes alike
    as 16 (a default ladder) and 16.0 (``--bitrates``), so those runs share their points."""
    if kbps is not None and float(kbps).is_integer():
        kbps = int(kbps)  # the form default ladders have always been hashed in
    return stable_hash("point", POINT_VERSION, content, codec.name, version, kbps)


# -- planning -----------------------------------------------------------------------------------
def codec_ladders(
    codecs: Sequence[Codec], bitrates: Sequence[float] | None
) -> tuple[dict[str, list[float | None]], list[str]]:
    """Each codec's bitrates: its default ladder, or the ``--bitrates`` it accepts."""
    ladders: dict[str, list[float | None]] = {}
    notes: list[str] = []
    for codec in codecs:
        if codec.lossless or not bitrates:
            ladders[codec.name] = codec.ladder()
            continue
        accepted = [float(k) for k in bitrates if codec.bitrates.accepts(float(k))]
        skipped = [k for k in bitrates if not codec.bitrates.accepts(float(k))]
        if skipped:
            notes.append(
                f"{codec.name}: skipping {', '.join(f'{k:g}' for k in skipped)} kbps "
                f"(accepts {codec.bitrates.describe()})"
            )
        if accepted:
            ladders[codec.name] = accepted
    return ladders, notes


@dataclass(slots=True)
class _Planned:
    clip: Any
    codec: Codec
    kbps: float | None
    key: str
    metrics: list[Any]


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _timeout(options: RunOptions, clips: Sequence[Any]) -> float:
    """Per-point timeout: given, or generous for the longest clip (ViSQOL is the slow part)."""
    if options.timeout_s:
        return float(options.timeout_s)
    return 300.0


# -- the run ------------------------------------------------------------------------------------
def run_benchmark(
    clips: Sequence[Any], options: RunOptions, stream: TextIO | None = None
) -> RunOutcome:
    """Run the matrix over ``clips``; see the module docstring."""
    stream = stream if stream is not None else sys.stderr
    started = time.time()
    codecs = resolve_codecs(options.codecs)
    if not codecs:
        raise BenchError("no codec is available here (see: python run_bench.py --list)")
    versions = {codec.name: codec.version() for codec in codecs}
    ladders, notes = codec_ladders(codecs, options.bitrates)
    codecs = [c for c in codecs if c.name in ladders]
    if not codecs:
        raise BenchError("no codec accepts any of the given --bitrates: " + "; ".join(notes))
    for note in notes:
        print(f"note: {note}", file=stream)
    if not clips:
        raise BenchError("no clips to run")

    executor = None
    if options.executor == "local":
        executor = make_executor(
            options.executor,
            options.jobs or _default_jobs(),
            WorkerSetup(plugin_dirs=tuple(str(d) for d in default_plugin_dirs())),
            _timeout(options, clips),
        )
        if not executor.forks():
            # Spawned workers take about half a second to start: start them now, so that it
            # overlaps the planning below (a run whose points are all in the store kills them
            # unused). Forked ones start in milliseconds, once the plan says they are needed.
            executor.prestart(len(clips) * sum(len(ladder) for ladder in ladders.values()))
    try:
        return _run_planned(clips, options, stream, started, codecs, versions, ladders, executor)
    finally:
        if executor is not None:
            executor.close()


def _run_planned(
    clips: Sequence[Any],
    options: RunOptions,
    stream: TextIO,
    started: float,
    codecs: list[Codec],
    versions: dict[str, str],
    ladders: dict[str, list[float | None]],
    executor: Any,
) -> RunOutcome:
    """The rest of :func:`run_benchmark`, with the local executor's workers starting up."""
    from bench.metrics import resolve_metrics

    domains = sorted({clip.domain for clip in clips})
    metrics_by_domain = {d: resolve_metrics(options.metrics, d) for d in domains}
    all_metrics = {m.name: m for ms in metrics_by_domain.values() for m in ms}
    metric_keys = {name: metric_key(m) for name, m in all_metrics.items()}

    out_dir = Path(options.out) if options.out else _default_out(options.reports_root)
    cache_path = Path(options.cache) if options.cache else options.reports_root / "cache.sqlite"
    with _writing(out_dir, cache_path):
        out_dir.mkdir(parents=True, exist_ok=True)

    planned: list[_Planned] = []
    for clip in clips:
        content = clip_content_key(clip)
        for codec in codecs:
            for kbps in ladders[codec.name]:
                key = point_key(content, codec, versions[codec.name], kbps)
                planned.append(_Planned(clip, codec, kbps, key, metrics_by_domain[clip.domain]))

    meta = _run_meta(options, clips, codecs, versions, ladders, all_metrics, out_dir, cache_path)
    meta["status"] = "running"
    with _writing(out_dir, cache_path):
        _write_json(out_dir / "run.json", meta)

    metric_bits = {key: bit for bit, key in enumerate(metric_keys.values())}
    with ResultStore(cache_path) as store:
        held = {} if options.fresh else store.presence([p.key for p in planned], metric_bits)
        jobs, todo = _jobs(planned, held, metric_keys, metric_bits)
        files_cache = cache_path.with_name(cache_path.name + ".files")
        if options.report and options.examples > 0:
            jobs = _keep_examples(jobs, clips, ladders, codecs, options.examples, files_cache)
        computed = sum(len(job.points) for job in jobs)
        print(
            f"{len(clips)} clips x {len(codecs)} codecs: {len(planned)} points, "
            f"{len(planned) - todo} cached, {computed} to compute",
            file=stream,
        )
        transient: dict[str, dict[str, Any]] = {}
        timings: Counter[str] = Counter()
        compute_start = time.time()
        warming = None
        if jobs and isinstance(executor, LocalExecutor):
            # Workers first: a fork must happen before this process starts a thread (below).
            executor.prestart(computed)
        if jobs:
            # The outputs' imports (pandas; with the report Jinja2 and its templates), paid
            # while the workers compute instead of after them.
            warming = threading.Thread(
                target=_warm_up_outputs,
                args=(files_cache if options.report else None,),
                name="warm-up",
                daemon=True,
            )
            warming.start()
            if executor is None:
                setup = WorkerSetup(plugin_dirs=tuple(str(d) for d in default_plugin_dirs()))
                executor = make_executor(
                    options.executor,
                    options.jobs or _default_jobs(),
                    setup,
                    _timeout(options, clips),
                    options.scheduler,
                )
            progress = _Progress(computed, stream)

            def on_result(job: Job, index: int, fields: dict, scores: dict) -> None:
                point = job.points[index]
                # Scores already stored for this point stay; put() adds the new ones.
                if not store.put(point.key, fields, scores):
                    transient[point.key] = fields
                else:
                    transient.pop(point.key, None)
                for name in ("encode_s", "decode_s", "metrics_s", "codec_cpu_s", "metrics_cpu_s",
                             "examples_cpu_s"):  # fmt: skip
                    timings[name] += fields.get(name) or 0.0
                progress.update(fields.get("status") != "ok")

            def on_clip(job: Job, clip_timings: dict[str, float]) -> None:
                for name, value in clip_timings.items():
                    timings[name] += value

            try:
                executor.run(jobs, on_result, on_clip)
            except KeyboardInterrupt:
                progress.close()
                meta["status"] = "interrupted"
                meta["timings"] = {"wall_s": time.time() - started}
                _write_json(out_dir / "run.json", meta)
                print(
                    "\ninterrupted: every finished point is stored; run the same command again "
                    "to compute only what is missing",
                    file=stream,
                )
                raise
            progress.close()
            meta["worker_restarts"] = getattr(executor, "restarts", 0)
            if isinstance(executor, LocalExecutor):
                meta["worker_start"] = dict(executor.started)  # how many forked, spawned
            meta["work_steals"] = getattr(executor, "steals", 0)
        compute_s = time.time() - compute_start
        if warming is not None:
            warming.join()
        computed_keys = {point.key for job in jobs for point in job.points}
        results = _results_table(planned, store, transient, all_metrics, metric_keys, computed_keys)
    failed = int((results["status"] != "ok").sum())
    meta.update(
        status="complete",
        points=len(planned),
        computed=computed,
        cached=len(planned) - computed,
        failed=failed,
        timings={
            "wall_s": round(time.time() - started, 3),
            "compute_wall_s": round(compute_s, 3),
            # CPU seconds the workers spent in each stage (sum over workers).
            "stage_cpu_s": round(sum(timings[k] for k in STAGES), 3),
            **{k: round(v, 3) for k, v in sorted(timings.items())},
        },
    )
    with _writing(out_dir, cache_path):
        outputs_start = time.time()
        # The store's keys, as the workers kept examples under them (known here: the examples
        # need not hash clip contents and look up codec versions again).
        keys = {(p.clip.dataset, p.clip.clip_id, p.codec.name, _kbps(p.kbps)): p.key
                for p in planned}  # fmt: skip
        files = _write_outputs(
            out_dir, results, all_metrics, clips, codecs, options, meta, files_cache, keys
        )
        meta["timings"]["wall_s"] = round(time.time() - started, 3)  # the report included
        # Wall time before the first job went out (planning, workers starting) and after
        # the last result came back (tables, plots, page): the fixed costs of a run.
        meta["timings"]["before_compute_s"] = round(compute_start - started, 3)
        meta["timings"]["outputs_s"] = round(time.time() - outputs_start, 3)
        meta["files"] = {k: str(v.relative_to(out_dir)) for k, v in files.items()}
        _write_json(out_dir / "run.json", meta)
        files["run.json"] = out_dir / "run.json"
        if options.report:
            _update_index(options.reports_root, out_dir)
    exit_status = 1 if options.strict and failed else 0
    return RunOutcome(out_dir, results, len(planned), computed, len(planned) - computed, failed,
                      exit_status, files)  # fmt: skip


def _jobs(
    planned: Sequence[_Planned],
    held: Mapping[str, tuple[bool, int]],
    metric_keys: Mapping[str, str],
    metric_bits: Mapping[str, int],
) -> tuple[list[Job], int]:
    """Jobs for the missing work, one per clip; also the number of points needing any work."""
    by_clip: dict[Any, list[Point]] = {}
    todo = 0
    for item in planned:
        names = [(m.name, metric_keys[m.name]) for m in item.metrics]
        if item.key in held:
            ok, mask = held[item.key]
            if not ok:
                continue  # a stored deterministic failure: nothing to add
            names = [(n, k) for n, k in names if not mask >> metric_bits[k] & 1]
            if not names:
                continue
        todo += 1
        by_clip.setdefault(item.clip, []).append(
            Point(item.key, item.codec.name, item.kbps, tuple(names))
        )
    # Longest first (LPT scheduling): the last jobs to start are short, so no worker sits idle
    # at the end while another finishes a long clip. Cost ~ points x clip length.
    ordered = sorted(by_clip.items(), key=lambda kv: -len(kv[1]) * _clip_seconds(kv[0]))
    jobs = [Job(i, clip, tuple(points)) for i, (clip, points) in enumerate(ordered)]
    return jobs, todo


def _keep_examples(
    jobs: list[Job],
    clips: Sequence[Any],
    ladders: Mapping[str, list[float | None]],
    codecs: Sequence[Codec],
    per_dataset: int,
    files_cache: Path,
) -> list[Job]:
    """``jobs`` asking the workers to keep the listening examples the report will likely play
    (see :mod:`bench.examples_plan`) in the files cache, where :func:`render_examples` copies
    them from instead of encoding them again; already kept files are not asked for."""
    import dataclasses

    from bench.examples_plan import predict_clips, predict_points

    chosen = predict_clips(((clip.dataset, clip.clip_id) for clip in clips), per_dataset)
    neural = [c.name for c in codecs if getattr(c, "neural", False)]
    wanted = predict_points(ladders, neural)
    folder = (files_cache / "examples").absolute()
    requested = False
    out: list[Job] = []
    for job in jobs:
        if (str(job.clip.dataset), str(job.clip.clip_id)) not in chosen:
            out.append(job)
            continue
        points = tuple(
            dataclasses.replace(point, example=str(folder / f"{point.key}.wav"))
            if point.kbps is not None
            and (point.codec, float(point.kbps)) in wanted
            and not (folder / f"{point.key}.wav").is_file()
            else point
            for point in job.points
        )
        original = folder / f"{clip_content_key(job.clip)}.wav"
        keep = "" if original.is_file() else str(original)
        requested = requested or bool(keep) or points != job.points
        out.append(dataclasses.replace(job, points=points, original=keep))
    if requested:
        # The workers write only where it exists; if it cannot be made, the outputs encode.
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
    return out


def _clip_seconds(clip: Any) -> float:
    """A cheap proxy of a clip's cost: its length in seconds from the file's header (file size
    says little across formats: a FLAC utterance is smaller than a shorter WAV clip)."""
    if clip.path is not None:
        import soundfile as sf

        try:
            return float(sf.info(str(clip.path)).duration)
        except Exception:  # not a soundfile format (or unreadable): guess from the size
            try:
                return Path(clip.path).stat().st_size / 16_000  # ~128 kbps
            except OSError:
                return 0.0
    seconds = clip.meta.get("seconds") if hasattr(clip, "meta") else None
    return float(seconds or 1.0)


def _results_table(
    planned: Sequence[_Planned],
    store: ResultStore,
    transient: Mapping[str, Mapping[str, Any]],
    metrics: Mapping[str, Any],
    metric_keys: Mapping[str, str],
    computed: set[str],
) -> Any:
    """One row per planned point, read from the store in chunks (plus this run's transient
    failures). Built column by column, so memory grows by the table itself, not by per-point
    dictionaries."""
    import pandas as pd

    names = list(metrics)
    columns: dict[str, list[Any]] = {name: [] for name in BASE_COLUMNS}
    for name in names:
        columns[name] = []
        columns[f"{name}_reason"] = []
    point_fields = [c for c in BASE_COLUMNS if c not in _CLIP_COLUMNS]
    for start in range(0, len(planned), 1000):
        chunk = planned[start : start + 1000]
        wanted = {item.key: [metric_keys[m.name] for m in item.metrics] for item in chunk}
        found = store.get_points(wanted, wanted)
        for item in chunk:
            clip, codec = item.clip, item.codec
            for column, value in (
                ("dataset", clip.dataset),
                ("clip_id", clip.clip_id),
                ("domain", clip.domain),
                ("synthetic", bool(clip.synthetic)),
                ("protocol", clip.protocol),
                ("codec", codec.name),
                ("neural", bool(getattr(codec, "neural", False))),
                ("backend", codec.backend),
                ("target_kbps", math.nan if item.kbps is None else float(item.kbps)),
            ):
                columns[column].append(value)
            stored = found.get(item.key)
            if stored is not None:
                fields, scores = stored.fields, stored.scores
            elif item.key in transient:
                fields, scores = transient[item.key], {}
            else:  # not computed: only possible if the executor lost it, which is a bug
                fields = {"status": "error", "error": "no result", "error_kind": "internal"}
                scores = {}
            for column in point_fields:
                columns[column].append(fields.get(column))
            columns["error"][-1] = fields.get("error") or ""
            columns["error_kind"][-1] = fields.get("error_kind") or ""
            columns["cached"][-1] = stored is not None and item.key not in computed
            applicable = {m.name for m in item.metrics}
            ok = fields.get("status") == "ok"
            for name in names:
                value, reason = math.nan, ""
                if ok:
                    if name not in applicable:
                        reason = "not_applicable"
                    elif metric_keys[name] in scores:
                        value, reason, _ = scores[metric_keys[name]]
                    else:
                        reason = "error"
                columns[name].append(value)
                columns[f"{name}_reason"].append(reason)
    return pd.DataFrame(columns)


# -- outputs ------------------------------------------------------------------------------------
def _warm_up_outputs(files_cache: Path | None) -> None:
    """Import what the outputs need (pandas and the tables' code; with ``files_cache``, the
    report's: Jinja2 and the page's compiled templates) while the workers compute; a failure
    here is not an error (the outputs then pay for it themselves, and report it)."""
    with contextlib.suppress(Exception):  # only a speed-up
        from bench.report.html import warm_up  # (the bench.report package: pandas, the tables)

        if files_cache is not None:
            warm_up(files_cache / "plots")  # the cache_dir _write_outputs gives write_report


def _metric_infos(metrics: Mapping[str, Any]) -> dict[str, Any]:
    from bench.report import MetricInfo

    return {
        name: MetricInfo(
            name, bool(m.higher_is_better), m.unit, m.domain, reference_free=not m.intrusive
        )
        for name, m in metrics.items()
    }


def _write_outputs(
    out_dir: Path,
    results: Any,
    metrics: Mapping[str, Any],
    clips: Sequence[Any],
    codecs: Sequence[Codec],
    options: RunOptions,
    meta: dict[str, Any],
    files_cache: Path,
    keys: Mapping[tuple[str, str, str, float | None], str] | None = None,
) -> dict[str, Path]:
    from bench.report import select_examples, summarize, write_csv, write_report

    infos = _metric_infos(metrics)
    files = {"results.csv": out_dir / "results.csv", "summary.csv": out_dir / "summary.csv"}
    write_csv(files["results.csv"], results)
    summary = summarize(results, infos)
    write_csv(files["summary.csv"], summary)
    if options.report:
        requests = select_examples(results, per_dataset=options.examples)
        by_name = {c.name: c for c in codecs}
        rendered = render_examples(
            out_dir, requests, clips, by_name, files_cache / "examples", keys
        )
        files["index.html"] = write_report(
            out_dir, results, summary, infos, meta, rendered, cache_dir=files_cache / "plots"
        )
    return files


def render_examples(
    out_dir: Path,
    requests: Sequence[Any],
    clips: Sequence[Any],
    codecs: Mapping[str, Codec],
    cache_dir: Path | None = None,
    keys: Mapping[tuple[str, str, str, float | None], str] | None = None,
) -> list[Any]:
    """Write the requested example points (16-bit WAV) for the page: copied from ``cache_dir``
    where a worker of this run or an earlier run kept the same point (keyed like the results
    store: by clip content, codec version and bitrate), else encoded and decoded again (a file
    missing or damaged there is made again). ``keys``: the store key of each (dataset, clip_id,
    codec, kbps) where known; else computed here."""
    from bench.fsutil import atomic_write_bytes
    from bench.report import RenderedExample, example_path

    def save_audio(path: Path, audio: Any, subtype: str) -> Path:
        from bench.audio import save_audio  # soundfile: only when a file is made here

        return save_audio(path, audio, subtype)

    def cached_copy(key: str, target: Path, make: Any) -> Path:
        if cache_dir is None:
            return make(target)
        kept = cache_dir / f"{key}.wav"
        data = _intact_wav(kept)
        if data is None:
            make(kept)
            data = kept.read_bytes()
        atomic_write_bytes(target, data)
        return target

    by_id = {(clip.dataset, clip.clip_id): clip for clip in clips}
    rendered = []
    for request in requests:
        clip = by_id.get((request.dataset, request.clip_id))
        if clip is None:
            continue
        content = clip_content_key(clip)
        loaded: list[Any] = []

        def audio(clip: Any = clip, loaded: list[Any] = loaded) -> Any:
            if not loaded:
                loaded.append(clip.load())
            return loaded[0]

        original = example_path(out_dir, request.dataset, request.clip_id, None, None)
        try:
            cached_copy(content, original, lambda path: save_audio(path, audio(), "PCM_16"))
        except BenchError:
            continue
        decoded: dict[Any, Path] = {}
        errors: dict[Any, str] = {}
        for point in request.points:
            kbps = None if _is_nan(point.target_kbps) else float(point.target_kbps)
            codec = codecs.get(point.codec)
            if codec is None:
                continue
            path = example_path(out_dir, request.dataset, request.clip_id, point.codec, kbps)
            key = (keys or {}).get((request.dataset, request.clip_id, point.codec, kbps))
            key = key or point_key(content, codec, codec.version(), kbps)

            def make(target: Path, codec: Codec = codec, kbps: float | None = kbps) -> Path:
                _, out = codec.roundtrip(audio(), kbps)
                return save_audio(target, out, "PCM_16")

            try:
                decoded[point] = cached_copy(key, path, make)
            except BenchError as exc:
                errors[point] = str(exc)
        rendered.append(RenderedExample(request, original, decoded, errors))
    return rendered


def _intact_wav(path: Path) -> bytes | None:
    """The bytes of the WAV file at ``path``, or None when it is missing or not whole (its RIFF
    header must give the file's length): checked without decoding it."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    whole = data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    if not whole or int.from_bytes(data[4:8], "little") != len(data) - 8:
        return None
    return data


def _kbps(kbps: float | None) -> float | None:
    return None if kbps is None else float(kbps)


def _is_nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _update_index(reports_root: Path, out_dir: Path) -> None:
    from bench.report import update_index

    # The index lists the run folders beside this one.
    update_index(out_dir.parent if out_dir.parent != Path("") else reports_root)


def _default_out(reports_root: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = reports_root / stamp
    suffix = 1
    while out.exists():
        suffix += 1
        out = reports_root / f"{stamp}-{suffix}"
    return out


@contextlib.contextmanager
def _writing(out_dir: Path, cache_path: Path) -> Iterator[None]:
    """Turn a failed write of the outputs (disk full, no permission) into a :class:`BenchError`
    that says the results are safe: they are in the store before any output is written."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or out_dir
        raise BenchError(
            f"cannot write {where}: {exc.strerror or exc}. Every finished point is safe in the "
            f"results store {cache_path}: free some space (or choose another --out) and run "
            "the same command again; it computes only what the store lacks and writes the "
            "outputs from the store"
        ) from exc


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _git_commit() -> dict[str, Any]:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(dirty)}


#: The libraries whose versions shape the results and the report (recorded in run.json). Not
#: matplotlib: a run's plots are the suite's own SVG (only the MUSHRA analysis uses it).
LIBRARIES = ("numpy", "scipy", "soundfile", "soxr", "av", "pesq", "pystoi", "visqol-python",
             "torch", "transformers", "snac", "constriction", "pandas", "jinja2",
             "numba", "lc3py", "speechmos", "onnxruntime")  # fmt: skip


def library_versions(names: Sequence[str] = LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (default: the libraries that shape the results)."""
    from bench.metrics.base import distribution_version

    return {name: distribution_version(name) or "not installed" for name in names}


def _run_meta(
    options: RunOptions,
    clips: Sequence[Any],
    codecs: Sequence[Codec],
    versions: Mapping[str, str],
    ladders: Mapping[str, list[float | None]],
    metrics: Mapping[str, Any],
    out_dir: Path,
    cache_path: Path,
) -> dict[str, Any]:
    from bench.audio import resampler_description

    datasets: dict[str, dict[str, Any]] = {}
    for clip in clips:
        entry = datasets.setdefault(
            clip.dataset,
            {"kind": clip.kind, "clips": 0, "synthetic": bool(clip.synthetic),
             "protocol": clip.protocol, "max_seconds": clip.max_seconds,
             "domain": clip.domain, "path": str(clip.path.parent) if clip.path else None},
        )  # fmt: skip
        entry["clips"] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "suite_version": __version__,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(options.command) or sys.argv,
        "out_dir": str(out_dir),
        "cache": str(cache_path),
        "executor": options.executor,
        "jobs": options.jobs or _default_jobs(),
        "datasets": datasets,
        "codecs": {
            c.name: {
                "version": versions[c.name],
                "backend": c.backend,
                "neural": bool(getattr(c, "neural", False)),
                "ladder": ladders[c.name],
            }
            for c in codecs
        },
        "metrics": {
            name: {
                "version": m.version(),
                "rate": m.rate,
                "domain": m.domain,
                "unit": m.unit,
                "reference_free": not m.intrusive,
            }
            for name, m in metrics.items()
        },
        "resampler": resampler_description(),
        "libraries": library_versions(),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "hostname": platform.node(),
        },
        "git": _git_commit(),
    }


class _Progress:
    """tqdm on a terminal; on a log, a plain line every 30 s. Counts failures as it goes."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.done, self.failed = total, 0, 0
        self.stream = stream
        self.started = self.last = time.monotonic()
        self.bar = None
        if getattr(stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="pt", file=stream, dynamic_ncols=True,
                            desc="points", smoothing=0.1)  # fmt: skip

    def update(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if self.bar is not None:
            self.bar.update(1)
            if self.failed:
                self.bar.set_postfix(failed=self.failed, refresh=False)
            return
        now = time.monotonic()
        if now - self.last >= 30 or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else math.inf
            print(
                f"  {self.done}/{self.total} points ({self.failed} failed), "
                f"{rate:.2f} pt/s, {left:.0f} s left",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
