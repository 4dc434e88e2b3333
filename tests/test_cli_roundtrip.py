"""``python -m bench roundtrip`` as a user runs it: JSON out, clear one-line errors, no debris."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import ROOT


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_roundtrip_prints_json_and_writes_audio(esc50_dir: Path, tmp_path: Path) -> None:
    source = esc50_dir / "audio" / "1-100032-A-0.wav"
    out = tmp_path / "decoded.wav"
    proc = bench("roundtrip", str(source), "--codec", "opus", "--kbps", "24", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for key in ("codec", "target_kbps", "actual_kbps", "bytes", "duration_s", "sample_rate",
                "lag_samples"):  # fmt: skip
        assert key in report
    assert report["codec"] == "opus" and report["target_kbps"] == 24
    assert report["sample_rate"] == 44100 and report["duration_s"] == 5.0
    assert report["lag_samples"] == 0
    assert report["actual_kbps"] == pytest.approx(8 * report["bytes"] / 5.0 / 1000, abs=1e-3)
    decoded, rate = sf.read(out)
    assert rate == 44100 and decoded.shape == (220500,)


def test_lossless_roundtrip_needs_no_bitrate(librispeech_dir: Path) -> None:
    source = next(librispeech_dir.glob("test-clean/*/*/*.flac"))
    proc = bench("roundtrip", str(source), "--codec", "flac")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target_kbps"] is None


def _nan_wav(path: Path) -> None:
    sf.write(path, np.array([0.0, np.nan, 0.1] * 100, np.float32), 16000, subtype="FLOAT")


@pytest.mark.parametrize(
    ("make", "codec", "kbps", "expect"),
    [
        (lambda p: p.write_bytes(b""), "mp3", "64", "empty file"),
        (lambda p: p.write_text("not audio at all\n" * 10), "mp3", "64", "not a readable audio"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "mp3", "64", "not a readable"),
        (_nan_wav, "mp3", "64", "non-finite"),
        (lambda p: sf.write(p, np.zeros(1600), 16000), "opus", "3", "cannot encode at 3 kbps"),
        (lambda p: sf.write(p, np.zeros(1600), 16000), "mp3", "nan", "finite"),
        (lambda p: sf.write(p, np.zeros(1600), 16000), "amrnb", "13", "one of 4.75"),
        (lambda p: sf.write(p, np.zeros(1600), 16000), "mp5", "64", "unknown codec 'mp5'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(
    tmp_path: Path, make, codec: str, kbps: str, expect: str
) -> None:
    source = tmp_path / "input file.wav"
    make(source)
    out = tmp_path / "out.wav"
    proc = bench("roundtrip", str(source), "--codec", codec, "--kbps", kbps, "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], proc.stderr
    if codec != "mp5" and kbps != "nan":
        assert str(source) in lines[0]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input file.wav"]


def test_missing_input_file(tmp_path: Path) -> None:
    proc = bench("roundtrip", str(tmp_path / "nope.wav"), "--codec", "mp3", "--kbps", "64")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_list_shows_every_codec_with_availability() -> None:
    proc = bench("list", "--json")
    assert proc.returncode == 0
    listing = json.loads(proc.stdout)
    names = {c["name"]: c for c in listing["codecs"]}
    assert {"mp3", "aac", "opus", "vorbis", "mp2", "amrnb", "g722", "flac", "codec2", "gsm",
            "speex", "mulaw"} <= set(names)  # fmt: skip
    assert all("available" in c and "reason" in c for c in names.values())


def test_console_script_runs_a_command_and_keeps_its_exit_status(tmp_path: Path) -> None:
    """The ``namc-bench`` script (``bench.cli:console``) behaves as ``python -m bench``: the
    output is flushed before the fast exit, and a usage error still exits 2."""
    call = "import sys; from bench.cli import console; sys.argv[0] = 'namc-bench'; console()"
    proc = subprocess.run([sys.executable, "-c", call, "list", "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert {c["name"] for c in json.loads(proc.stdout)["codecs"]} >= {"mp3", "opus"}
    missing = str(tmp_path / "nope.wav")
    proc = subprocess.run([sys.executable, "-c", call, "roundtrip", missing, "--codec", "mp3",
                           "--kbps", "64"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "no such file" in proc.stderr
