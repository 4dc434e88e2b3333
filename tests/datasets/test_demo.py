"""The built-in synthetic demo set: deterministic, labelled synthetic, and of the promised kinds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from bench.audio import Audio
from bench.datasets import demo, load_clips, parse_datasets_arg


@pytest.fixture(scope="module")
def clips():
    (spec,) = parse_datasets_arg("demo")
    return {c.clip_id: c for c in load_clips(spec)}


@pytest.fixture(scope="module")
def audio(clips) -> dict[str, Audio]:
    return {clip_id: clip.load() for clip_id, clip in clips.items()}


def test_small_labelled_and_mixed(clips, audio) -> None:
    assert 6 <= len(clips) <= 8
    for clip_id, clip in clips.items():
        assert clip.synthetic and clip.meta["synthetic"] is True
        assert clip_id.startswith("synthetic-")
        assert clip.path is None and clip.dataset == f"demo-{clip.domain}"
        assert 2.0 <= audio[clip_id].duration <= 4.0
        assert audio[clip_id].channels == 1
        assert 0.1 < audio[clip_id].peak < 1.0
        assert audio[clip_id].rate == clip.meta["rate"]
    assert {c.domain for c in clips.values()} == {"speech", "audio"}
    assert {a.rate for a in audio.values()} == {16000, 44100}
    assert sum(a.duration for a in audio.values()) < 25.0


def test_deterministic(clips, audio) -> None:
    demo.generate.cache_clear()
    for clip_id, clip in clips.items():
        assert clip.load().content_hash() == audio[clip_id].content_hash()


def _band_energy(x: np.ndarray, rate: int, low: float, high: float) -> float:
    freqs, power = signal.welch(x, rate, nperseg=4096)
    return float(power[(freqs >= low) & (freqs < high)].sum() / power.sum())


def _f0(frame: np.ndarray, rate: int, low: float = 60.0, high: float = 400.0) -> float:
    frame = frame - frame.mean()
    corr = np.correlate(frame, frame, "full")[len(frame) - 1 :]
    lags = np.arange(int(rate / high), int(rate / low))
    return rate / lags[np.argmax(corr[lags])]


@pytest.mark.parametrize(
    ("clip_id", "f0_range"),
    [("synthetic-speech-low-16k", (85, 150)), ("synthetic-speech-high-44k", (160, 280))],
)
def test_speech_like_is_voiced_with_pitch_and_pauses(audio, clip_id, f0_range) -> None:
    a = audio[clip_id]
    x = a.samples[0].astype(np.float64)
    hop = int(0.02 * a.rate)
    frames = x[: len(x) // hop * hop].reshape(-1, hop)
    rms = np.sqrt((frames**2).mean(axis=1))
    assert (rms < 0.05 * rms.max()).sum() >= 3  # pauses between syllables
    assert (rms < 1e-6).sum() == 0  # ... with a noise floor, not digital silence
    loud = np.argsort(rms)[-10:]
    pitches = [_f0(x[i * hop : i * hop + 2 * hop], a.rate) for i in loud if (i + 2) * hop < len(x)]
    assert f0_range[0] < np.median(pitches) < f0_range[1]
    assert _band_energy(x, a.rate, 80, 4000) > 0.9  # voice and formant region hold the energy


def test_tones_have_their_frequencies(audio) -> None:
    a = audio["synthetic-tones-44k"]
    first = a.samples[0, : a.rate // 2].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    peak = np.fft.rfftfreq(len(first), 1 / a.rate)[np.argmax(spectrum)]
    assert abs(peak - 440.0) < 3.0


def test_chord_holds_c_major(audio) -> None:
    a = audio["synthetic-chord-44k"]
    first = a.samples[0, : int(0.7 * a.rate)].astype(np.float64)
    freqs = np.fft.rfftfreq(len(first), 1 / a.rate)
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    for note in (261.63, 329.63, 392.00):  # C4 E4 G4
        band = (freqs > note - 4) & (freqs < note + 4)
        assert spectrum[band].max() > 0.2 * spectrum.max()


def test_noise_is_broadband_and_transients_are_peaky(audio) -> None:
    noise = audio["synthetic-noise-44k"].samples[0].astype(np.float64)
    freqs, power = signal.welch(noise, 44100, nperseg=2048)
    band = (freqs > 100) & (freqs < 16000)
    flatness = np.exp(np.mean(np.log(power[band]))) / np.mean(power[band])
    tones = audio["synthetic-tones-44k"].samples[0].astype(np.float64)
    _, tone_power = signal.welch(tones, 44100, nperseg=2048)
    tone_flatness = np.exp(np.mean(np.log(tone_power[band] + 1e-30))) / np.mean(tone_power[band])
    assert flatness > 10 * tone_flatness
    assert _band_energy(noise, 44100, 4000, 20000) > 0.01
    transients = audio["synthetic-transients-44k"]
    rms = float(np.sqrt(np.mean(transients.samples.astype(np.float64) ** 2)))
    assert 20 * np.log10(transients.peak / rms) > 15.0  # crest factor of isolated events
