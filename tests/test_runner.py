"""The main job end to end: rows, files, resume, cache reuse, faults, executors, escaping.

Runs use generated clips in a folder dataset and cheap metrics (snr, si_sdr) so the matrix is
small; the codecs are the real adapters.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.conftest import ROOT, VOLATILE_COLUMNS


def make_clips(folder: Path, count: int, seconds: float = 1.0, rate: int = 16000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * rate)) / rate
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        noise = 0.02 * rng.standard_normal(t.size)
        sf.write(
            folder / f"clip{i:02d}.wav", (tone + noise).astype(np.float32), rate, subtype="PCM_16"
        )
    return folder


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "run_bench.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def results(out: Path) -> pd.DataFrame:
    table = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    return table.sort_values(["dataset", "clip_id", "codec", "target_kbps"]).reset_index(drop=True)


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=VOLATILE_COLUMNS)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clips(tmp_path_factory.mktemp("data") / "clips", 3)


COMMON = ("--metrics", "snr,si_sdr", "--jobs", "2", "--examples", "1")


def test_run_writes_every_output(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run("--codecs", "mp3,opus,flac", "--bitrates", "24,64", "--datasets", f"folder={clips}",
               "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), *COMMON)  # fmt: skip
    table = results(out)
    # 3 clips x (mp3 2 + opus 2 + flac 1) points, one row each.
    assert len(table) == 3 * 5
    for column in ("dataset", "clip_id", "codec", "target_kbps", "actual_kbps", "bytes",
                   "duration_s", "status", "error", "snr", "si_sdr", "snr_reason"):  # fmt: skip
        assert column in table.columns
    assert (table["status"] == "ok").all(), table[["codec", "error"]]
    assert (table["lag_samples"] == 0).all()
    flac = table[table["codec"] == "flac"]
    # Lossless: identical signals, so SNR is +inf (its best value), kept as such.
    assert flac["target_kbps"].isna().all() and np.isposinf(flac["snr"]).all()
    np.testing.assert_allclose(
        table["actual_kbps"], 8 * table["bytes"] / table["duration_s"] / 1000, rtol=1e-9
    )
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 5  # one row per (dataset, codec, bitrate point)
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "complete" and meta["schema_version"] == 1
    assert meta["points"] == 15 and meta["failed"] == 0
    for key in ("command", "libraries", "machine", "git", "timings", "codecs", "metrics"):
        assert key in meta
    assert meta["codecs"]["opus"]["version"].startswith("pyav-adapter")
    html = (out / "index.html").read_text()
    assert "<html" in html.lower() and "mp3" in html
    assert (out.parent / "index.html").exists()  # the list of runs
    assert "index.html" in proc.stdout  # the one-screen summary says where the report is


def test_rerun_uses_the_cache_and_adding_a_codec_costs_only_that_codec(
    clips: Path, tmp_path: Path
) -> None:
    cache = str(tmp_path / "c.sqlite")
    base = ("--datasets", f"folder={clips}", "--cache", cache, "--no-report", *COMMON)
    run("--codecs", "mp3", "--bitrates", "32", "--out", str(tmp_path / "a"), *base)
    first = json.loads((tmp_path / "a" / "run.json").read_text())
    assert first["computed"] == 3 and first["cached"] == 0

    run("--codecs", "mp3", "--bitrates", "32", "--out", str(tmp_path / "b"), *base)
    second = json.loads((tmp_path / "b" / "run.json").read_text())
    assert second["computed"] == 0 and second["cached"] == 3
    pd.testing.assert_frame_equal(
        comparable(results(tmp_path / "a")), comparable(results(tmp_path / "b"))
    )

    run("--codecs", "mp3,opus", "--bitrates", "32", "--out", str(tmp_path / "c"), *base)
    third = json.loads((tmp_path / "c" / "run.json").read_text())
    assert third["computed"] == 3 and third["cached"] == 3  # only opus's points


def test_a_default_ladder_and_the_same_bitrates_given_share_the_store(
    clips: Path, tmp_path: Path
) -> None:
    """mp3's default ladder (whole numbers, 16 ...) and ``--bitrates`` naming the same rates
    (parsed as 16.0 ...) are the same points: the second run computes nothing."""
    from bench.codecs import resolve_codecs

    (mp3,) = resolve_codecs(["mp3"])
    ladder = ",".join(f"{k:g}" for k in mp3.ladder())
    cache = str(tmp_path / "c.sqlite")
    base = ("--datasets", f"folder={clips}", "--cache", cache, "--no-report", *COMMON)
    run("--codecs", "mp3", "--out", str(tmp_path / "a"), *base)
    first = json.loads((tmp_path / "a" / "run.json").read_text())
    assert first["computed"] == 3 * len(mp3.ladder()) and first["cached"] == 0
    run("--codecs", "mp3", "--bitrates", ladder, "--out", str(tmp_path / "b"), *base)
    second = json.loads((tmp_path / "b" / "run.json").read_text())
    assert second["computed"] == 0 and second["cached"] == first["computed"]
    pd.testing.assert_frame_equal(
        comparable(results(tmp_path / "a")), comparable(results(tmp_path / "b"))
    )


def test_adding_a_metric_computes_only_that_metric(clips: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "c.sqlite")
    base = ("--codecs", "opus", "--bitrates", "16", "--datasets", f"folder={clips}",
            "--cache", cache, "--no-report", "--jobs", "1")  # fmt: skip
    run(*base, "--metrics", "snr", "--out", str(tmp_path / "a"))
    run(*base, "--metrics", "snr,lsd", "--out", str(tmp_path / "b"))
    meta = json.loads((tmp_path / "b" / "run.json").read_text())
    assert meta["computed"] == 3  # re-decoded for the new metric
    a, b = results(tmp_path / "a"), results(tmp_path / "b")
    assert b["lsd"].notna().all()
    np.testing.assert_array_equal(a["snr"], b["snr"])


def _stored_points(cache: Path) -> int:
    try:
        with sqlite3.connect(cache, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("kill_after", [1, 6, 14])
def test_kill_9_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path, kill_after: int, uninterrupted: pd.DataFrame, slow_clips: Path
) -> None:
    cache = tmp_path / "c.sqlite"
    args = ["run_bench.py", *SLOW_ARGS, "--datasets", f"folder={slow_clips}", "--cache", str(cache),
            "--out", str(tmp_path / "killed")]  # fmt: skip
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while _stored_points(cache) < kill_after and proc.poll() is None:
        assert time.monotonic() < deadline, "run made no progress"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the main process and its workers, mid-run
    proc.wait()
    stored = _stored_points(cache)
    assert stored >= kill_after
    run(*SLOW_ARGS, "--datasets", f"folder={slow_clips}", "--cache", str(cache),
        "--out", str(tmp_path / "resumed"))  # fmt: skip
    meta = json.loads((tmp_path / "resumed" / "run.json").read_text())
    assert meta["computed"] == meta["points"] - stored  # only what was missing
    pd.testing.assert_frame_equal(comparable(results(tmp_path / "resumed")), uninterrupted)


SLOW_ARGS = ("--codecs", "mp3,opus,aac", "--bitrates", "16,24,32,48,64", "--metrics",
             "snr,si_sdr,lsd", "--jobs", "2", "--no-report")  # fmt: skip


@pytest.fixture(scope="module")
def slow_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clips(tmp_path_factory.mktemp("slow") / "clips", 4, seconds=2.0, rate=44100)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, slow_clips: Path) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("whole")
    run(*SLOW_ARGS, "--datasets", f"folder={slow_clips}", "--cache", str(folder / "c.sqlite"),
        "--out", str(folder / "out"))  # fmt: skip
    return comparable(results(folder / "out"))


def test_dask_executor_equals_local(
    slow_clips: Path, tmp_path: Path, uninterrupted: pd.DataFrame
) -> None:
    run(*SLOW_ARGS, "--datasets", f"folder={slow_clips}", "--cache", str(tmp_path / "c.sqlite"),
        "--out", str(tmp_path / "dask"), "--executor", "dask")  # fmt: skip
    pd.testing.assert_frame_equal(comparable(results(tmp_path / "dask")), uninterrupted)


FAULTY = """
import os, signal, time
import numpy as np
from bench.audio import Audio
from bench.codecs import register_codec
from bench.codecs.base import Bitrates, Codec, Encoded


class Faulty(Codec):
    bitrates = Bitrates(ladder=(8,), allowed=(8,))

    def encode(self, audio, kbps):
        self.fault(audio)
        return Encoded(audio.to_pcm16().tobytes(), 10, audio.duration, kbps)

    def decode(self, data):
        samples = np.frombuffer(data, "<i2")
        return self.bad_decode(Audio.from_pcm(samples, 16000))

    def fault(self, audio):
        pass

    def bad_decode(self, audio):
        return audio


@register_codec
class Raises(Faulty):
    name = "t-raises"
    def fault(self, audio):
        raise RuntimeError("adapter bug")


@register_codec
class Hangs(Faulty):
    name = "t-hangs"
    def fault(self, audio):
        time.sleep(3600)


@register_codec
class Short(Faulty):
    name = "t-short"
    def bad_decode(self, audio):
        return audio.with_frames(audio.frames // 2)


@register_codec
class NaN(Faulty):
    name = "t-nan"
    def bad_decode(self, audio):
        samples = audio.samples.copy()
        samples[0, 10] = np.nan
        return Audio(samples, audio.rate)


@register_codec
class Segfault(Faulty):
    name = "t-segfault"
    def fault(self, audio):
        os.kill(os.getpid(), signal.SIGSEGV)
"""


def test_faulty_codecs_cost_only_their_own_points(clips: Path, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "faulty.py").write_text(textwrap.dedent(FAULTY))
    out = tmp_path / "run"
    proc = run("--codecs", "t-raises,t-hangs,t-short,t-nan,t-segfault,mp3", "--datasets",
               f"folder={clips}", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"),
               "--timeout", "3", "--bitrates", "8,32", "--no-report", *COMMON,
               env={"BENCH_CODECS_DIR": str(plugins)})  # fmt: skip
    table = results(out)
    by_codec = {codec: rows for codec, rows in table.groupby("codec")}
    assert (by_codec["mp3"]["status"] == "ok").all()  # the good codec is untouched
    expect = {
        "t-raises": ("internal", "adapter bug"),
        "t-hangs": ("timeout", "timed out after 3 s"),
        "t-short": ("codec", "returned 1 x 8000 frames"),
        "t-nan": ("codec", "t-nan decoded invalid audio: audio has 1 non-finite sample(s)"),
        "t-segfault": ("crash", "SIGSEGV"),
    }
    for codec, (kind, message) in expect.items():
        rows = by_codec[codec]
        assert (rows["status"] == "error").all(), codec
        assert (rows["error_kind"] == kind).all(), (codec, rows["error_kind"].tolist())
        assert rows["error"].str.contains(message, regex=False).all(), (
            codec,
            rows["error"].tolist(),
        )
        assert rows["snr"].isna().all()
    assert "failed points" in proc.stdout
    strict = run("--codecs", "t-raises", "--datasets", f"folder={clips}", "--out",
                 str(tmp_path / "strict"), "--cache", str(tmp_path / "c.sqlite"), "--bitrates", "8",
                 "--no-report", "--strict", *COMMON, env={"BENCH_CODECS_DIR": str(plugins)},
                 check=False)  # fmt: skip
    assert strict.returncode == 1


def test_clip_names_are_escaped_in_the_report(tmp_path: Path) -> None:
    folder = make_clips(tmp_path / "data", 1)
    (folder / "clip00.wav").rename(folder / '<script>alert("x")<script> é.wav')
    out = tmp_path / "run"
    run("--codecs", "opus", "--bitrates", "16", "--datasets", f"folder={folder}", "--out",
        str(out), "--cache", str(tmp_path / "c.sqlite"), *COMMON)  # fmt: skip
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<script>alert("x")' not in html
    assert "&lt;script&gt;alert(" in html


def test_bad_options_are_one_line_errors(clips: Path, tmp_path: Path) -> None:
    for args, message in [
        (("--codecs", "nope"), "unknown codec 'nope'"),
        (("--datasets", "esc50=/does/not/exist"), "/does/not/exist"),
        (("--codecs", "mp3", "--bitrates", "7"), "no codec accepts"),
        (("--metrics", "nope"), "nope"),
    ]:
        proc = run(*args, "--out", str(tmp_path / "x"), "--cache", str(tmp_path / "c.sqlite"),
                   *(("--datasets", f"folder={clips}") if "--datasets" not in args else ()),
                   check=False)  # fmt: skip
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and proc.stderr.strip().startswith("error:"), proc.stderr


def test_rerun_reuses_drawn_plots_and_decoded_examples(clips: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    args = ("--codecs", "opus,mp3", "--bitrates", "16,32", "--datasets", f"folder={clips}",
            "--cache", str(cache), *COMMON)  # fmt: skip
    run(*args, "--out", str(tmp_path / "a"))
    kept = cache.with_name(cache.name + ".files")
    plots = sorted((kept / "plots").glob("*.svg"))
    examples = sorted((kept / "examples").glob("*.wav"))
    assert plots and examples
    stamps = {p: p.stat().st_mtime_ns for p in plots + examples}
    run(*args, "--out", str(tmp_path / "b"))
    assert {p: p.stat().st_mtime_ns for p in plots + examples} == stamps  # read, not redrawn
    for name in ("a", "b"):
        assert len(list((tmp_path / name / "plots").glob("*.svg"))) == len(plots)
    first = sorted((tmp_path / "a" / "examples").rglob("*.wav"))
    second = sorted((tmp_path / "b" / "examples").rglob("*.wav"))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_forked_and_spawned_workers_give_the_same_results(clips: Path, tmp_path: Path) -> None:
    """The command line forks its workers on Linux (its main process keeps numpy's BLAS to one
    thread, so it has one thread to fork) and spawns them with BENCH_WORKER_START=spawn; the
    results are the same either way, and run.json says which it was."""
    base = ("--codecs", "opus,mp3", "--bitrates", "16,32", "--datasets", f"folder={clips}",
            "--no-report", "--metrics", "snr,si_sdr,stoi", "--jobs", "2")  # fmt: skip
    tables, started = [], []
    for name, env in (("fork", {}), ("spawn", {"BENCH_WORKER_START": "spawn"})):
        out = tmp_path / name
        env = {**env, "OPENBLAS_NUM_THREADS": ""}  # unset: the command line chooses
        run(*base, "--out", str(out), "--cache", str(tmp_path / f"{name}.sqlite"), env=env)
        tables.append(comparable(results(out)))
        started.append(json.loads((out / "run.json").read_text())["worker_start"])
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert started[0] == ({"fork": 2} if sys.platform == "linux" else {"spawn": 2})
    assert started[1] == {"spawn": 2}
