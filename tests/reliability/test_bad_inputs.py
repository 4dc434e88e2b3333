"""A run over a folder of bad, odd and hostile files next to good ones (issue 8, item 1).

The corpus (:mod:`tests.reliability.corpus`) is built in a tmp folder. One real run goes over
all of it, another over the good clips alone; the good rows must be identical, every bad clip
must be a per-clip ``status=error`` (or NaN metrics with a reason) with a readable message, the
summary must count the failures, and the exit status must be 0 (1 with ``--strict``).

Codecs and metrics are chosen to be quick but to cover each kind of behaviour: a stereo codec
(opus), mono-only codecs (mp3, amrnb at 8 kHz), a lossless one (flac), and the metrics whose
failure reasons show up on such data (PESQ, STOI and ViSQOL say ``too_short`` and ``silent``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from bench.metrics.base import REASONS
from tests.conftest import ROOT, VOLATILE_COLUMNS

from .corpus import HOSTILE_BAD_NAME, HOSTILE_NAME, Case, build_corpus

CODECS = ("opus", "mp3", "flac", "amrnb")
METRICS = ("snr", "pesq_wb", "stoi", "visqol_speech")
#: opus codes both bitrates; mp3 only 24 and amrnb only 12.2 (each skips the other with a note).
POINTS = {"opus": (12.2, 24.0), "mp3": (24.0,), "flac": (None,), "amrnb": (12.2,)}
ARGS = ("--codecs", ",".join(CODECS), "--bitrates", "12.2,24", "--metrics", ",".join(METRICS),
        "--jobs", "2", "--examples", "1")  # fmt: skip
#: The corpus's folder: its name reaches run.json, the page and the runs list.
DATA_FOLDER = "data <script>alert(3)<script> \"q\" 'é'"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "run_bench.py", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=900, env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )  # fmt: skip


def read_results(out: Path) -> pd.DataFrame:
    table = pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])
    return table.sort_values(["clip_id", "codec", "target_kbps"]).reset_index(drop=True)


@dataclass(frozen=True)
class Run:
    folder: Path
    out: Path
    cache: Path
    cases: list[Case]
    proc: subprocess.CompletedProcess[str]
    table: pd.DataFrame


def do_run(root: Path, librispeech: Path, *, with_bad: bool) -> Run:
    folder, out, cache = root / DATA_FOLDER, root / "reports" / "run", root / "cache.sqlite"
    cases = build_corpus(folder, librispeech, with_bad=with_bad)
    proc = bench(*ARGS, "--datasets", f"folder:speech={folder}", "--out", str(out),
                 "--cache", str(cache))  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Run(folder, out, cache, cases, proc, read_results(out))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory, librispeech_dir: Path) -> Run:
    return do_run(tmp_path_factory.mktemp("full"), librispeech_dir, with_bad=True)


@pytest.fixture(scope="module")
def good_only(tmp_path_factory: pytest.TempPathFactory, librispeech_dir: Path) -> Run:
    return do_run(tmp_path_factory.mktemp("good"), librispeech_dir, with_bad=False)


def rows_of(run: Run, case: Case) -> pd.DataFrame:
    rows = run.table[run.table["clip_id"] == case.name]
    # One row per (codec, bitrate) point, whatever happened to the clip.
    assert len(rows) == sum(len(p) for p in POINTS.values()), (case.name, len(rows))
    return rows


def test_the_corpus_holds_every_kind_of_bad_input(full: Run) -> None:
    names = {case.name for case in full.cases}
    assert len(names) == len(full.cases) == 22
    on_disk = {p.name for p in full.folder.iterdir()}
    assert on_disk == names  # nothing the listing would skip: no hidden names
    assert len(full.table) == len(full.cases) * 5


def test_every_unreadable_or_invalid_clip_is_an_input_error_naming_the_file(full: Run) -> None:
    for case in (c for c in full.cases if c.expect == "input"):
        rows = rows_of(full, case)
        assert (rows["status"] == "error").all(), case.name
        assert (rows["error_kind"] == "input").all(), case.name
        for message in rows["error"]:
            # Readable, one line, and about this clip: results are stored by content, so the
            # message must not name a file (empty.wav and HOSTILE_BAD_NAME share their bytes).
            assert case.message in message, (case.name, message)
            assert "\n" not in message and "Traceback" not in message
            assert str(full.folder) not in message and "the file" not in message[:20], message
        for metric in METRICS:
            assert rows[metric].isna().all()


def test_odd_but_valid_clips_are_scored_or_refused_per_codec(full: Run) -> None:
    from bench.codecs import get_codec

    for case in (c for c in full.cases if c.expect == "ok"):
        rows = rows_of(full, case)
        for _, row in rows.iterrows():
            limit = get_codec(row["codec"]).max_channels
            if case.channels > limit:  # no silent downmix: the codec says what it cannot do
                assert row["status"] == "error" and row["error_kind"] == "input", row.to_dict()
                message = f"encodes at most {limit} channel(s); this audio has {case.channels}"
                assert message in row["error"]
                continue
            assert row["status"] == "ok", (case.name, row["codec"], row["error"])
            assert row["channels"] == case.channels
            expected = dict(case.reasons)
            for metric in METRICS:
                value, reason = row[metric], row[f"{metric}_reason"]
                if metric in expected:
                    assert math.isnan(value) and reason == expected[metric], (
                        case.name, row["codec"], metric, value, reason,
                    )  # fmt: skip
                else:  # a number, or NaN that says why: never a bare NaN
                    assert not math.isnan(value) or reason in REASONS, (case.name, metric)
                    assert not math.isnan(value), (case.name, row["codec"], metric, reason)


def test_the_60_s_and_odd_rate_clips_keep_their_length_and_rate(full: Run) -> None:
    table = full.table[full.table["status"] == "ok"]
    expect = {"long_60s.wav": (60.0, 16000), "rate8k.wav": (2.0, 8000),
              "rate96k.wav": (2.0, 96000), "short_0.05s.wav": (0.05, 16000)}  # fmt: skip
    for name, (seconds, rate) in expect.items():
        rows = table[table["clip_id"] == name]
        assert len(rows) == 5
        assert (rows["sample_rate"] == rate).all(), name
        assert ((rows["duration_s"] - seconds).abs() < 1e-9).all(), name


def test_good_clips_score_exactly_as_in_a_run_without_the_bad_ones(
    full: Run, good_only: Run
) -> None:
    good = [case.name for case in good_only.cases]
    assert good == [c.name for c in full.cases if c.good] and HOSTILE_NAME in good
    mine = full.table[full.table["clip_id"].isin(good)].reset_index(drop=True)
    alone = good_only.table.reset_index(drop=True)
    assert len(alone) == 3 * 5 and (alone["status"] == "ok").all()
    # The two runs used separate caches: every number was computed twice, independently.
    pd.testing.assert_frame_equal(
        mine.drop(columns=VOLATILE_COLUMNS),
        alone.drop(columns=VOLATILE_COLUMNS),
        check_dtype=False,  # the full table's int columns hold NaN for failed rows: float64
        check_exact=True,
    )


def test_the_summary_counts_the_failures_and_the_exit_status_is_documented(
    full: Run, tmp_path: Path
) -> None:
    failed = int((full.table["status"] != "ok").sum())
    # 9 unreadable or invalid files x 5 points; stereo: mp3 and amrnb; 6 channels: all but flac
    assert failed == 9 * 5 + 2 + 4
    meta = json.loads((full.out / "run.json").read_text())
    assert meta["status"] == "complete" and meta["failed"] == failed
    assert meta["points"] == len(full.table) and meta["computed"] == len(full.table)
    out = full.proc.stdout
    assert f"{len(full.table)} points: {len(full.table)} computed, 0 from the cache, {failed} " \
           "failed" in out  # fmt: skip
    assert f"{failed} failed points; most common errors:" in out
    assert "x [input] empty file (0 bytes) (" in out  # two empty files: says which
    assert "[input]" in out and "Traceback" not in full.proc.stderr

    # --strict: same work, all of it (failures included) from the cache, exit status 1.
    strict = bench(*ARGS, "--datasets", f"folder:speech={full.folder}", "--out",
                   str(tmp_path / "strict"), "--cache", str(full.cache), "--strict",
                   "--no-report")  # fmt: skip
    assert strict.returncode == 1, strict.stdout + strict.stderr
    again = json.loads((tmp_path / "strict" / "run.json").read_text())
    assert again["computed"] == 0 and again["failed"] == failed
    pd.testing.assert_frame_equal(
        read_results(tmp_path / "strict").drop(columns=VOLATILE_COLUMNS),
        full.table.drop(columns=VOLATILE_COLUMNS),
        check_exact=True,
    )


def test_names_from_the_data_are_escaped_and_kept_exactly(full: Run) -> None:
    # results.csv keeps the hostile names byte for byte (quoted CSV)...
    assert HOSTILE_NAME in set(full.table["clip_id"])
    assert HOSTILE_BAD_NAME in set(full.table["clip_id"])
    # ...the pages show data strings escaped, never as markup (the folder's name is in the
    # command line, the dataset's path and the runs list).
    html = (full.out / "index.html").read_text(encoding="utf-8")
    runs_index = (full.out.parent / "index.html").read_text(encoding="utf-8")
    for page in (html, runs_index):
        for raw in ("<script>alert(", "<img src=x", "<b onmouseover"):
            assert raw not in page, raw
        assert "&lt;script&gt;alert(3)&lt;script&gt;" in page
    # ...and no file the report writes takes its name from the data.
    written = [p.relative_to(full.out).as_posix() for p in full.out.rglob("*") if p.is_file()]
    assert written and all(name.isascii() and "<" not in name for name in written), written
