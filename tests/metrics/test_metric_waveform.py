"""SNR, PSNR and SI-SDR on real clips: known values, identities and invariances."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.audio import Audio
from bench.metrics import get_metric
from bench.metrics.waveform import psnr_db, si_sdr_db, snr_db


@pytest.mark.parametrize("snr", [40.0, 20.0, 5.0, 0.0, -10.0])
@pytest.mark.parametrize("clip_name", ["esc50_clip", "speech_clip"])
def test_snr_of_noise_at_a_known_snr(request, with_noise, clip_name: str, snr: float) -> None:
    clip = request.getfixturevalue(clip_name)
    result = get_metric("snr").score(clip, with_noise(clip, snr, seed=int(snr) + 50))
    assert result.ok
    assert result.value == pytest.approx(snr, abs=0.1)


@pytest.mark.parametrize("name", ["snr", "psnr", "si_sdr"])
def test_identical_signals_give_plus_infinity(esc50_clip: Audio, name: str) -> None:
    result = get_metric(name).score(esc50_clip, esc50_clip)
    assert result.ok and result.value == math.inf


@pytest.mark.parametrize("gain", [0.05, 0.3, 1.0, 2.5, -1.0])
def test_si_sdr_is_scale_invariant(speech_clip: Audio, with_noise, gain: float) -> None:
    metric = get_metric("si_sdr")
    noisy = with_noise(speech_clip, 15.0)
    base = metric.score(speech_clip, noisy).value
    scaled = Audio(noisy.samples.astype(np.float64) * gain, noisy.rate)
    # float32 storage of the scaled copy changes the value by far less than 1e-4 dB
    assert metric.score(speech_clip, scaled).value == pytest.approx(base, abs=1e-4)
    if gain != 1.0:  # ... while SNR is not scale invariant
        snr = get_metric("snr")
        assert abs(snr.score(speech_clip, scaled).value - snr.score(speech_clip, noisy).value) > 0.5


def test_si_sdr_matches_its_definition_and_removes_the_mean(speech_clip: Audio) -> None:
    ref = speech_clip.samples[0].astype(np.float64)
    deg = 0.7 * ref + 0.01 * np.sin(np.arange(ref.size) / 7.0) + 0.2  # DC offset added
    s = ref - ref.mean()
    e = deg - deg.mean()
    alpha = np.dot(e, s) / np.dot(s, s)
    expected = 10 * np.log10(np.sum((alpha * s) ** 2) / np.sum((alpha * s - e) ** 2))
    assert si_sdr_db(ref, deg) == pytest.approx(expected, abs=1e-9)
    # the DC offset changes SNR but not SI-SDR
    assert si_sdr_db(ref, deg - 0.2) == pytest.approx(expected, abs=1e-9)


def test_psnr_uses_full_scale_as_its_peak(esc50_clip: Audio, with_noise) -> None:
    noisy = with_noise(esc50_clip, 20.0)
    ref = esc50_clip.samples.astype(np.float64)
    mse = np.mean((ref - noisy.samples.astype(np.float64)) ** 2)
    value = get_metric("psnr").score(esc50_clip, noisy).value
    assert value == pytest.approx(10 * np.log10(1.0 / mse), abs=1e-9)
    assert psnr_db(ref, noisy.samples, peak=2.0) == pytest.approx(value + 20 * np.log10(2.0))


def test_snr_of_a_silent_degraded_signal_is_zero_db(speech_clip: Audio) -> None:
    silent = Audio(np.zeros_like(speech_clip.samples), speech_clip.rate)
    assert get_metric("snr").score(speech_clip, silent).value == pytest.approx(0.0, abs=1e-12)
    # PSNR only needs the error: a silent reference is fine
    assert get_metric("psnr").score(silent, speech_clip).ok


def test_all_channel_rule_scores_channels_as_one_signal(speech_clip: Audio, with_noise) -> None:
    left = speech_clip.samples[0].astype(np.float64)
    noisy = with_noise(speech_clip, 10.0).samples[0].astype(np.float64)
    ref = Audio(np.stack([left, 0.5 * left]), speech_clip.rate)
    deg = Audio(np.stack([noisy, 0.5 * left]), speech_clip.rate)  # right channel untouched
    ref64, deg64 = ref.samples.astype(np.float64), deg.samples.astype(np.float64)
    expected = 10 * np.log10(np.sum(ref64**2) / np.sum((ref64 - deg64) ** 2))
    assert get_metric("snr").score(ref, deg).value == pytest.approx(expected, abs=1e-9)
    assert snr_db(ref64, deg64) == pytest.approx(expected, abs=1e-9)
    # a mono downmix would have hidden a swap of the channels; the "all" rule does not
    swapped = Audio(ref.samples[::-1], ref.rate)
    assert get_metric("snr").score(ref, swapped).value < 10.0
