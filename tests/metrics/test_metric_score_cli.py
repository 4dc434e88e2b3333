"""``python -m bench score REF DEG``: strict JSON, nulls with reasons, user errors exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.audio import Audio, save_audio
from bench.cli import main
from bench.metrics import get_metric

ROOT = Path(__file__).resolve().parents[2]


def _strict(text: str) -> dict:
    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def _score(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | None, str]:
    status = main(["score", *argv])
    out, err = capsys.readouterr()
    return status, (_strict(out) if status == 0 else None), err


@pytest.fixture()
def speech_files(tmp_path: Path, short_speech: Audio, with_noise) -> tuple[Path, Path]:
    ref, deg = tmp_path / "ref.flac", tmp_path / "deg.wav"
    save_audio(ref, short_speech, "PCM_16")
    save_audio(deg, with_noise(short_speech, 20.0), "FLOAT")
    return ref, deg


def test_prints_one_json_object_with_values_reasons_and_meta(capsys, speech_files) -> None:
    ref, deg = speech_files
    status, out, _ = _score(capsys, str(ref), str(deg), "--metrics", "snr,pesq_wb,visqol_audio")
    assert status == 0 and out is not None
    assert list(out) == ["snr", "pesq_wb", "visqol_audio", "reasons", "_meta"]
    assert out["snr"] == pytest.approx(20.0, abs=0.1)
    assert out["reasons"] == {}
    meta = out["_meta"]
    assert meta["resampler"].startswith("soxr ")
    assert meta["metrics"]["snr"]["rate"] == 16000
    assert meta["metrics"]["pesq_wb"]["rate"] == 16000
    assert meta["metrics"]["visqol_audio"]["rate"] == 48000
    assert meta["metrics"]["visqol_audio"]["version"] == get_metric("visqol_audio").version()
    assert meta["reference"] == {"path": str(ref), "rate": 16000, "channels": 1, "frames": 33360}
    assert meta["degraded"]["resampled_to"] is None


def test_null_values_come_with_reasons_and_infinity_is_a_string(capsys, esc50_dir: Path) -> None:
    rain = esc50_dir / "audio" / "4-163264-A-10.wav"  # real rain: PESQ finds no utterance
    status, out, _ = _score(capsys, str(rain), str(rain), "--metrics", "snr,pesq_wb,stoi")
    assert status == 0 and out is not None
    assert out["snr"] == "inf"  # identical signals: the exact value, never a cap
    assert out["pesq_wb"] is None and out["reasons"]["pesq_wb"] == "no_utterance"
    assert out["_meta"]["metrics"]["pesq_wb"]["detail"] == "No utterances detected"
    assert set(out["reasons"]) == {k for k, v in out.items() if v is None}


def test_domain_marks_metrics_that_do_not_apply(capsys, speech_files) -> None:
    ref, deg = speech_files
    status, out, _ = _score(capsys, str(ref), str(deg), "--domain", "audio")
    assert status == 0 and out is not None
    assert "pesq_wb" not in out and "visqol_audio" in out  # "all" = applicable metrics
    status, out, _ = _score(capsys, str(ref), str(deg), "--domain", "audio", "--metrics", "pesq_wb")
    assert out is not None and out["_meta"]["metrics"]["pesq_wb"]["applicable"] is False
    assert isinstance(out["pesq_wb"], float)


def test_other_rate_is_resampled_and_other_length_is_a_mismatch(
    capsys, tmp_path: Path, short_speech: Audio
) -> None:
    ref, deg48, short = tmp_path / "ref.wav", tmp_path / "deg48.wav", tmp_path / "short.wav"
    save_audio(ref, short_speech, "FLOAT")
    save_audio(deg48, short_speech.resample(48000), "FLOAT")
    save_audio(short, short_speech.segment(0, 16000), "FLOAT")
    status, out, _ = _score(capsys, str(ref), str(deg48), "--metrics", "snr,pesq_wb")
    assert status == 0 and out is not None
    assert out["_meta"]["degraded"]["resampled_to"] == 16000
    assert out["snr"] > 30.0  # soxr there and back
    status, out, _ = _score(capsys, str(ref), str(short), "--metrics", "snr,pesq_wb")
    assert out is not None and out["snr"] is None and out["pesq_wb"] is None
    assert out["reasons"] == {"snr": "length_mismatch", "pesq_wb": "length_mismatch"}


def test_user_errors_exit_2_with_one_line_naming_the_file(capsys, tmp_path: Path, speech_files):
    ref, _ = speech_files
    nan_wav = tmp_path / "nan.wav"
    data = np.zeros(16000, dtype=np.float32)
    data[100] = np.nan
    sf.write(nan_wav, data, 16000, subtype="FLOAT")
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    for argv, needle in (
        ([str(ref), str(nan_wav)], f"{nan_wav}: audio has 1 non-finite sample"),
        ([str(ref), str(text)], f"{text}: not a readable audio file"),
        ([str(tmp_path / "missing.wav"), str(ref)], "missing.wav: no such file"),
        ([str(ref), str(ref), "--metrics", "pesq"], "unknown metric 'pesq'; valid:"),
    ):
        status, _, err = _score(capsys, *argv)
        assert status == 2
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1, err


def test_help_is_instant_and_documents_the_schema() -> None:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "score", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.perf_counter() - start
    assert done.returncode == 0
    for word in ('"reasons"', '"_meta"', "length_mismatch", "no alignment", "--domain"):
        assert word in done.stdout
    assert elapsed < 5.0  # no heavy import behind --help
