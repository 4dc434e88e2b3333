"""LSD and mel distance: definitions checked against scipy's STFT, identities and trends."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from bench.audio import Audio
from bench.metrics import get_metric
from bench.metrics.spectral import (
    FLOOR_RATIO,
    frame_length,
    hz_to_mel,
    mel_filterbank,
    mel_to_hz,
)


def test_frame_length_is_the_smallest_power_of_two_of_40_ms() -> None:
    assert [frame_length(r) for r in (8000, 10000, 16000, 22050, 44100, 48000)] == [
        512,
        512,
        1024,
        1024,
        2048,
        2048,
    ]


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_mel_filterbank_has_no_empty_band(rate: int) -> None:
    n_fft = frame_length(rate)
    bank = mel_filterbank(rate, n_fft)
    assert bank.shape == (64, n_fft // 2 + 1)
    assert np.all(bank.max(axis=1) > 0.2)  # every triangle covers at least one bin
    assert np.all(bank <= 1.0) and np.all(bank >= 0.0)
    assert mel_to_hz(hz_to_mel(1000.0)) == pytest.approx(1000.0)
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)  # HTK scale's anchor


def _scipy_power(x: np.ndarray, rate: int) -> np.ndarray:
    n_fft = frame_length(rate)
    _, _, z = signal.stft(
        x,
        window="hann",  # scipy's default Hann is periodic, like ours
        nperseg=n_fft,
        noverlap=n_fft - n_fft // 4,
        boundary=None,
        padded=False,
        detrend=False,
    )
    return np.abs(z.T) ** 2  # (frames, bins); scipy's 1/sum(window) scale cancels in dB ratios


def test_lsd_and_mel_distance_follow_their_definitions(esc50_clip: Audio, with_noise) -> None:
    noisy = with_noise(esc50_clip, 15.0)
    ref = esc50_clip.samples[0].astype(np.float64)
    deg = noisy.samples[0].astype(np.float64)
    p_ref, p_deg = _scipy_power(ref, esc50_clip.rate), _scipy_power(deg, esc50_clip.rate)

    floor = FLOOR_RATIO * p_ref.max()
    d = 10 * np.log10(np.maximum(p_ref, floor)) - 10 * np.log10(np.maximum(p_deg, floor))
    expected_lsd = np.mean(np.sqrt(np.mean(d**2, axis=1)))
    assert get_metric("lsd").score(esc50_clip, noisy).value == pytest.approx(expected_lsd, rel=1e-9)

    bank = mel_filterbank(esc50_clip.rate, frame_length(esc50_clip.rate))
    m_ref, m_deg = p_ref @ bank.T, p_deg @ bank.T
    floor = FLOOR_RATIO * m_ref.max()
    d = 10 * np.log10(np.maximum(m_ref, floor)) - 10 * np.log10(np.maximum(m_deg, floor))
    expected_mel = np.mean(np.abs(d))
    got = get_metric("mel_distance").score(esc50_clip, noisy).value
    assert got == pytest.approx(expected_mel, rel=1e-9)


@pytest.mark.parametrize("name", ["lsd", "mel_distance"])
@pytest.mark.parametrize("clip_name", ["esc50_clip", "speech_clip"])
def test_identical_is_zero_and_more_noise_is_farther(
    request, with_noise, name: str, clip_name: str
) -> None:
    clip = request.getfixturevalue(clip_name)
    metric = get_metric(name)
    state = metric.prepare(clip)
    assert metric.score_prepared(state, clip).value == 0.0
    values = [metric.score_prepared(state, with_noise(clip, snr)).value for snr in (40, 20, 0)]
    assert values[0] < values[1] < values[2]


@pytest.mark.parametrize("name", ["lsd", "mel_distance"])
def test_floor_keeps_digital_silence_finite(speech_clip: Audio, name: str) -> None:
    # ESC-50 clips are padded with digital silence; a codec's -120 dBFS dither there must not
    # turn into an unbounded log difference.
    padded = np.concatenate([speech_clip.samples, np.zeros((1, speech_clip.rate))], axis=1)
    ref = Audio(padded, speech_clip.rate)
    dither = np.random.default_rng(3).standard_normal(padded.shape) * 1e-6
    value = get_metric(name).score(ref, Audio(padded + dither, ref.rate)).value
    assert np.isfinite(value) and value < 1.0
