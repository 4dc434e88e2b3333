"""PESQ and STOI on real speech: best values, monotonic trends, agreement with the libraries.

Agreement tolerances:
* files already at the metric's rate: the wrapper passes the samples straight through, so the
  values must be *identical* to ``pesq.pesq`` / ``pystoi.stoi`` called on the same files (ESTOI
  within 1e-9: pystoi adds eps-sized random noise inside ESTOI, so two direct calls differ too);
* files at another rate: we resample with soxr where pystoi would use its own polyphase
  resampler; the two resamplers differ by ~1e-6 STOI / ~1e-5 ESTOI on these clips (measured),
  so 1e-4 is the bound.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pesq
import pystoi
import pytest
import soundfile as sf

from bench.audio import Audio, load_audio, save_audio
from bench.metrics import get_metric

SNRS = (50, 40, 30, 20, 10, 0)


@pytest.mark.parametrize(
    ("name", "best"),
    [
        ("pesq_wb", 4.643888473510742),
        ("pesq_nb", 4.548638343811035),
        ("pesq_nb16", 4.548638343811035),
        ("stoi", 1.0),
        ("estoi", 1.0),
    ],
)
@pytest.mark.parametrize("clip_name", ["short_speech", "speech_clip"])
def test_identical_speech_gets_the_best_value(request, name: str, best: float, clip_name) -> None:
    clip = request.getfixturevalue(clip_name)
    metric = get_metric(name)
    assert metric.best == best
    assert metric.score(clip, clip).value == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("name", ["pesq_wb", "pesq_nb", "pesq_nb16", "stoi", "estoi"])
@pytest.mark.parametrize("clip_name", ["short_speech", "speech_2s5"])
def test_more_noise_scores_lower(request, with_noise, name: str, clip_name: str) -> None:
    clip = request.getfixturevalue(clip_name)
    metric = get_metric(name)
    state = metric.prepare(clip)
    values = [metric.score_prepared(state, with_noise(clip, snr, seed=7)).value for snr in SNRS]
    assert all(a > b for a, b in itertools.pairwise(values)), values


def _files(tmp_path: Path, clip: Audio, noisy: Audio, rate: int) -> tuple[Path, Path]:
    ref_path, deg_path = tmp_path / f"ref{rate}.wav", tmp_path / f"deg{rate}.wav"
    save_audio(ref_path, clip.resample(rate), "PCM_16")
    save_audio(deg_path, noisy.resample(rate), "FLOAT")
    return ref_path, deg_path


def _read(path: Path) -> np.ndarray:
    data, _ = sf.read(path, dtype="float64")
    return data


@pytest.mark.parametrize(
    ("name", "rate", "mode"),
    [("pesq_wb", 16000, "wb"), ("pesq_nb", 8000, "nb"), ("pesq_nb16", 16000, "nb")],
)
def test_pesq_equals_the_library_on_the_same_files(
    tmp_path: Path, speech_clip: Audio, with_noise, name: str, rate: int, mode: str
) -> None:
    ref_path, deg_path = _files(tmp_path, speech_clip, with_noise(speech_clip, 15.0), rate)
    ours = get_metric(name).score(load_audio(ref_path), load_audio(deg_path))
    direct = pesq.pesq(rate, _read(ref_path), _read(deg_path), mode)
    assert ours.ok and ours.value == direct


@pytest.mark.parametrize(("name", "extended", "tol"), [("stoi", False, 0.0), ("estoi", True, 1e-9)])
def test_stoi_equals_the_library_on_the_same_files(
    tmp_path: Path, speech_clip: Audio, with_noise, name: str, extended: bool, tol: float
) -> None:
    noisy = with_noise(speech_clip, 0.0)
    ref_path, deg_path = _files(tmp_path, speech_clip, noisy, 10000)
    ours = get_metric(name).score(load_audio(ref_path), load_audio(deg_path))
    direct = pystoi.stoi(_read(ref_path), _read(deg_path), 10000, extended=extended)
    assert ours.ok and ours.value == pytest.approx(direct, abs=tol)

    # 16 kHz files: pystoi would resample internally with its own filter, we use soxr
    ref16, deg16 = speech_clip.samples[0].astype(np.float64), noisy.samples[0].astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fill value may hide in the comparison
        direct16 = pystoi.stoi(ref16, deg16, 16000, extended=extended)
    assert get_metric(name).score(speech_clip, noisy).value == pytest.approx(direct16, abs=1e-4)


def test_mono_rule_scores_the_mix_of_a_stereo_file(speech_clip: Audio, with_noise) -> None:
    noisy = with_noise(speech_clip, 20.0)
    left = speech_clip.samples[0].astype(np.float64)
    stereo_ref = Audio(np.stack([left, 0.6 * left]), speech_clip.rate)
    stereo_deg = Audio(np.stack([noisy.samples[0], 0.6 * left]), speech_clip.rate)
    for name in ("pesq_wb", "stoi"):
        metric = get_metric(name)
        assert metric.score(stereo_ref, stereo_deg).value == pytest.approx(
            metric.score(stereo_ref.mono(), stereo_deg.mono()).value, abs=1e-12
        )


def test_pesq_on_44k1_audio_is_the_library_on_soxr_resampled_signals(
    horn_clip: Audio, with_noise
) -> None:
    noisy = with_noise(horn_clip, 20.0)
    ours = get_metric("pesq_wb").score(horn_clip, noisy)
    ref16 = horn_clip.resample(16000).samples[0].astype(np.float64)
    deg16 = noisy.resample(16000).samples[0].astype(np.float64)
    assert ours.value == pesq.pesq(16000, ref16, deg16, "wb")
