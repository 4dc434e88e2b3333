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
ALIGN_TAIL = "to remove the lag and cut both files to their overlap"


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
    assert meta["align"] is None
    assert not any(m["aligned"] for m in meta["metrics"].values())


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
    status, out, err = _score(capsys, str(ref), str(short), "--metrics", "snr,pesq_wb")
    assert out is not None and out["snr"] is None and out["pesq_wb"] is None
    assert out["reasons"] == {"snr": "length_mismatch", "pesq_wb": "length_mismatch"}
    # the detail and a note on stderr say what to do
    assert out["_meta"]["metrics"]["snr"]["detail"].endswith("use --align " + ALIGN_TAIL)
    assert err == (
        "note: DEG has 16000 frames, REF 33360: snr, pesq_wb gave length_mismatch; "
        f"use --align {ALIGN_TAIL}\n"
    )


def test_reference_free_metrics_score_a_degraded_file_of_any_length(
    capsys, tmp_path: Path, short_speech: Audio
) -> None:
    """DNSMOS never compares DEG with REF: another length is no mismatch, and the value is the
    one the model gives DEG alone (the run's pipeline still refuses another length)."""
    ref, short = tmp_path / "ref.wav", tmp_path / "short.wav"
    save_audio(ref, short_speech, "FLOAT")
    cut = short_speech.segment(0, 24000)
    save_audio(short, cut, "FLOAT")
    status, out, err = _score(capsys, str(ref), str(short), "--metrics", "dnsmos_ovrl,snr")
    assert status == 0 and out is not None
    assert out["reasons"] == {"snr": "length_mismatch"}
    assert out["dnsmos_ovrl"] == get_metric("dnsmos_ovrl").score_signal(cut).value
    assert out["_meta"]["metrics"]["dnsmos_ovrl"]["reference_free"] is True
    assert "dnsmos" not in err


def _coded(audio: Audio, delay: int, tail: int) -> Audio:
    """``audio`` with ``delay`` frames of silence before it and ``tail`` after it, the shape
    of a file decoded by a tool that leaves the codec's delay and padding in."""
    head = np.zeros((audio.channels, delay), dtype=np.float32)
    end = np.zeros((audio.channels, tail), dtype=np.float32)
    return Audio(np.concatenate([head, audio.samples, end], axis=1), audio.rate)


def test_visqol_scores_a_longer_coded_file_as_visqol_python_does(
    capsys, tmp_path: Path, horn_clip: Audio, with_noise
) -> None:
    """The ordinary case from outside the suite: 48 kHz stereo 16-bit files, the coded one
    2112 + 1500 samples longer. ViSQOL gets them as they are, as VisqolApi.measure does."""
    from bench.metrics import visqol_split

    clip = horn_clip.resample(48000)
    stereo = Audio(np.stack([clip.samples[0], 0.7 * clip.samples[0]]), 48000)
    ref, deg = tmp_path / "ref48_stereo.wav", tmp_path / "deg48_stereo.wav"
    save_audio(ref, stereo, "PCM_16")
    save_audio(deg, _coded(with_noise(stereo, 25.0), 2112, 1500), "PCM_16")
    status, out, err = _score(capsys, str(ref), str(deg), "--metrics", "visqol_audio,snr")
    assert status == 0 and out is not None
    assert out["visqol_audio"] == visqol_split.measure_files("audio", ref, deg).moslqo
    assert out["reasons"] == {"snr": "length_mismatch"}
    assert "snr gave length_mismatch" in err and "visqol" not in err


def test_align_removes_the_lag_and_cuts_both_to_the_overlap(
    capsys, tmp_path: Path, short_speech: Audio, with_noise
) -> None:
    noisy = with_noise(short_speech, 20.0)
    ref, same, late, early = (tmp_path / f"{n}.wav" for n in ("ref", "same", "late", "early"))
    save_audio(ref, short_speech, "FLOAT")
    save_audio(same, noisy, "FLOAT")
    save_audio(late, _coded(noisy, 480, 200), "FLOAT")  # 30 ms late, 200 frames of padding
    save_audio(early, noisy.segment(300, noisy.frames), "FLOAT")  # starts 300 frames early
    names = "snr,si_sdr,pesq_wb,visqol_speech"
    _, plain, _ = _score(capsys, str(ref), str(same), "--metrics", names)
    assert plain is not None
    _, aligned_same, _ = _score(capsys, str(ref), str(same), "--metrics", names, "--align")
    assert aligned_same is not None and aligned_same["_meta"]["align"]["lag"] == 0
    _, out, err = _score(capsys, str(ref), str(late), "--metrics", names, "--align")
    assert out is not None and out["reasons"] == {} and err == ""
    align = out["_meta"]["align"]
    assert (align["lag"], align["frames"], align["lag_seconds"]) == (480, 33360, 0.03)
    assert align["dropped"] == {
        "reference": {"start": 0, "end": 0},
        "degraded": {"start": 480, "end": 200},
    }
    for name in ("snr", "si_sdr", "pesq_wb"):  # the cut is the same-length pair, exactly
        assert out[name] == plain[name] == aligned_same[name], name
        assert out["_meta"]["metrics"][name]["aligned"] is True
    assert out["snr"] == pytest.approx(20.0, abs=0.1)
    # ViSQOL got the files as they are, and aligned the delay itself
    assert out["_meta"]["metrics"]["visqol_speech"]["aligned"] is False
    assert out["visqol_speech"] == pytest.approx(plain["visqol_speech"], abs=0.05)
    _, out, _ = _score(capsys, str(ref), str(early), "--metrics", "snr", "--align")
    assert out is not None
    assert out["_meta"]["align"]["lag"] == -300
    assert out["_meta"]["align"]["dropped"] == {
        "reference": {"start": 300, "end": 0},
        "degraded": {"start": 0, "end": 0},
    }
    assert out["snr"] > 19.0


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
    words = ('"reasons"', '"_meta"', "length_mismatch", "no alignment", "--domain", "--align")
    for word in (*words, "ViSQOL", "pesq_nb16", '"align"'):
        assert word in done.stdout
    assert elapsed < 5.0  # no heavy import behind --help
