"""``demo``: a small built-in set of generated signals for a first run with no corpus.

Seven clips of 2-3 s, each generated from a fixed seed (the same samples on every run), of the
kinds the real corpora hold: voiced speech-like sounds (a glottal pulse train with a moving
pitch through vowel formant filters, 16 kHz and 44.1 kHz), transients (knocks, claps, clicks),
noise (rain/wind-like modulated pink noise), tones (steady tones, beeps and a sweep), a chord
progression and bird-like chirps. They are **synthetic**: every clip has ``synthetic=True``, an
id starting with ``synthetic-`` and ``meta['synthetic'] = True`` so reports can say so. Numbers
measured on them say nothing about real recordings; they exist so the pipeline can be checked
end to end on a fresh machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.audio import Audio
from bench.datasets.base import DatasetKind, DatasetSpec, register_dataset
from bench.datasets.clip import Clip, Meta
from bench.errors import AudioError, BenchError

#: Bumped whenever a generator changes its output, so cached results are not reused.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class Recipe:
    """How one demo clip is generated."""

    clip_id: str
    domain: str
    rate: int
    seconds: float
    seed: int
    description: str
    generate: Callable[[np.random.Generator, int, float], np.ndarray]


# -- building blocks --------------------------------------------------------------------------
def _fade(x: np.ndarray, rate: int, seconds: float = 0.01) -> np.ndarray:
    """Raised-cosine fade in and out, so no segment starts or stops with a click."""
    n = min(len(x) // 2, max(1, int(seconds * rate)))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    y = x.copy()
    y[:n] *= ramp
    y[len(y) - n :] *= ramp[::-1]
    return y


def _resonator(f0: float, bandwidth: float, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-pole resonator (one formant) at ``f0`` Hz, ``bandwidth`` Hz wide."""
    r = np.exp(-np.pi * bandwidth / rate)
    theta = 2 * np.pi * f0 / rate
    a = np.array([1.0, -2 * r * np.cos(theta), r * r])
    b = np.array([1.0 - r])
    return b, a


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Pink (1/f power) noise by shaping white noise's spectrum."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return pink / np.max(np.abs(pink))


def _normalise(x: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.max(np.abs(x)))
    if top == 0.0:
        raise AudioError("generator produced silence")  # a bug, but never a silent demo clip
    return x * (peak / top)


# -- generators -------------------------------------------------------------------------------
#: Vowel formants (F1, F2, F3) in Hz for an adult male voice (Peterson & Barney averages).
VOWELS = {
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}


def _voiced(
    rng: np.random.Generator,
    rate: int,
    seconds: float,
    *,
    f0_base: float,
    formant_scale: float,
) -> np.ndarray:
    """Syllables of a glottal pulse train through three formant resonators.

    The pitch follows a slow declination, per-syllable intonation and 1 % jitter; each
    syllable is a vowel with a raised-cosine envelope; some gaps hold a short fricative
    (band-passed noise, 3.5-9 kHz), the others are pauses, as in read speech.
    """
    from scipy import signal

    n = round(seconds * rate)
    voiced_part = np.zeros(n)
    unvoiced_part = np.zeros(n)
    t0 = 0.08
    vowel_names = list(VOWELS)
    while True:
        duration = rng.uniform(0.16, 0.32)
        start, stop = int(t0 * rate), int((t0 + duration) * rate)
        if stop >= n - int(0.05 * rate):
            break
        length = stop - start
        t = np.arange(length) / rate
        # pitch: declination over the clip, a rise or fall per syllable, 1 % jitter
        declination = 1.0 - 0.12 * (t0 / seconds)
        contour = 1.0 + 0.08 * np.sin(np.pi * t / duration) * rng.choice([-1.0, 1.0])
        jitter = 1.0 + 0.01 * np.repeat(rng.standard_normal(length // 64 + 1), 64)[:length]
        f0 = f0_base * declination * contour * jitter
        phase = np.cumsum(f0 / rate) % 1.0
        # Rosenberg glottal pulse (open 40 %, closing 16 % of the period), then its
        # derivative (lip radiation), plus a little aspiration noise
        open_, close = 0.40, 0.16
        pulse = np.where(
            phase < open_,
            0.5 * (1.0 - np.cos(np.pi * phase / open_)),
            np.where(phase < open_ + close, np.cos(0.5 * np.pi * (phase - open_) / close), 0.0),
        )
        source = np.diff(pulse, prepend=0.0)
        source += 0.05 * np.std(source) * rng.standard_normal(length)
        formants = VOWELS[vowel_names[int(rng.integers(len(vowel_names)))]]
        voiced = np.zeros(length)
        for index, formant in enumerate(formants):
            b, a = _resonator(formant * formant_scale, 60.0 + 40.0 * index, rate)
            voiced += signal.lfilter(b, a, source) / (index + 1)
        envelope = np.sin(np.pi * np.arange(length) / length) ** 0.6
        voiced_part[start:stop] += voiced * envelope * rng.uniform(0.6, 1.0)
        gap = rng.uniform(0.04, 0.14)
        if rng.random() < 0.4:  # a fricative in the gap, like /s/
            f_len = int(min(gap, 0.08) * rate)
            if stop + f_len < n:
                band = [min(3500.0, 0.3 * rate), min(9000.0, 0.45 * rate)]
                sos = signal.butter(4, band, "bandpass", fs=rate, output="sos")
                hiss = signal.sosfilt(sos, rng.standard_normal(f_len))
                unvoiced_part[stop : stop + f_len] += _fade(hiss / np.std(hiss), rate, 0.01)
        t0 += duration + gap
    out = _normalise(voiced_part, 0.5)
    out += 0.03 * unvoiced_part  # fricatives ~25 dB below the vowels' peaks
    out += 3e-4 * rng.standard_normal(n)  # room noise: pauses are quiet, not digital silence
    return out


def _speech_low(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    return _voiced(rng, rate, seconds, f0_base=115.0, formant_scale=1.0)


def _speech_high(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    return _voiced(rng, rate, seconds, f0_base=215.0, formant_scale=1.17)


def _transients(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """Knocks (damped low resonances), claps (band-passed noise bursts) and clicks."""
    from scipy import signal

    n = round(seconds * rate)
    out = 1e-4 * rng.standard_normal(n)  # a recording's noise floor, not digital silence
    t = 0.1
    events = ("knock", "clap", "click", "knock", "clap", "glass", "click", "knock")
    for event in events:
        start = int(t * rate)
        if event == "knock":
            length = int(0.12 * rate)
            tt = np.arange(length) / rate
            freq = rng.uniform(180.0, 320.0)
            burst = np.sin(2 * np.pi * freq * tt) * np.exp(-tt / 0.025)
            burst += 0.3 * rng.standard_normal(length) * np.exp(-tt / 0.004)
            amp = 0.8
        elif event == "clap":
            length = int(0.08 * rate)
            tt = np.arange(length) / rate
            sos = signal.butter(2, [900.0, 3500.0], "bandpass", fs=rate, output="sos")
            burst = signal.sosfilt(sos, rng.standard_normal(length)) * np.exp(-tt / 0.012)
            amp = 0.7
        elif event == "glass":
            length = int(0.35 * rate)
            tt = np.arange(length) / rate
            burst = sum(
                np.sin(2 * np.pi * f * tt + rng.uniform(0, 2 * np.pi)) * np.exp(-tt / d)
                for f, d in ((2900.0, 0.12), (4300.0, 0.08), (6100.0, 0.05))
            )
            amp = 0.5
        else:  # click
            length = int(0.004 * rate)
            burst = np.zeros(length)
            burst[0] = 1.0
            burst = signal.lfilter([1.0, -0.9], [1.0], burst)
            amp = 0.6
        stop = min(n, start + length)
        burst = burst[: stop - start]
        out[start:stop] += amp * burst / np.max(np.abs(burst))
        t += rng.uniform(0.18, 0.34)
        if t > seconds - 0.4:
            break
    return _normalise(out, 0.8)


def _noise(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """Rain/wind-like: pink noise with a slow gusting envelope plus sparse droplets."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    gust = 0.6 + 0.4 * np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 2 * np.pi))
    out = _pink(rng, n) * gust
    drops = rng.random(n) < 30.0 / rate  # ~30 droplets per second
    out += 0.3 * np.convolve(drops * rng.standard_normal(n), np.exp(-np.arange(64) / 8.0))[:n]
    return _fade(_normalise(out, 0.4), rate, 0.05)


def _tones(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """A 440 Hz tone, a 1 kHz tone, 2 kHz alarm beeps and a logarithmic 100 Hz-8 kHz sweep."""
    parts: list[np.ndarray] = []

    def tone(freq: float, dur: float, amp: float) -> np.ndarray:
        tt = np.arange(int(dur * rate)) / rate
        return _fade(amp * np.sin(2 * np.pi * freq * tt), rate, 0.01)

    parts.append(tone(440.0, 0.5, 0.5))
    parts.append(tone(1000.0, 0.5, 0.35))
    for _ in range(5):  # beeps: 80 ms on, 70 ms off
        parts.append(tone(2000.0, 0.08, 0.4))
        parts.append(np.zeros(int(0.07 * rate)))
    sweep_dur = max(0.2, seconds - sum(len(p) for p in parts) / rate)
    tt = np.arange(int(sweep_dur * rate)) / rate
    f_lo, f_hi = 100.0, min(8000.0, 0.4 * rate)
    k = np.log(f_hi / f_lo) / sweep_dur
    parts.append(_fade(0.4 * np.sin(2 * np.pi * f_lo * (np.exp(k * tt) - 1) / k), rate, 0.01))
    out = np.concatenate(parts)
    n = round(seconds * rate)
    return np.pad(out, (0, max(0, n - len(out))))[:n]


#: Chord progression C - F - G - C (MIDI notes), each chord 0.75 s.
CHORDS = ((60, 64, 67), (65, 69, 72), (67, 71, 74), (60, 64, 67, 72))


def _chord(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """Harmonic notes with an attack-decay-sustain-release envelope and slight detuning."""
    n = round(seconds * rate)
    out = np.zeros(n)
    length = n // len(CHORDS)
    tt = np.arange(length) / rate
    attack, release = 0.01, 0.12
    envelope = np.minimum(1.0, tt / attack) * (0.6 + 0.4 * np.exp(-tt / 0.15))
    envelope *= np.clip((tt[-1] - tt) / release, 0.0, 1.0)
    for index, chord in enumerate(CHORDS):
        note_sum = np.zeros(length)
        for midi in chord:
            f0 = 440.0 * 2 ** ((midi - 69) / 12) * (1 + rng.uniform(-0.002, 0.002))
            for harmonic in range(1, 9):
                if f0 * harmonic < 0.45 * rate:
                    phase = rng.uniform(0, 2 * np.pi)
                    note_sum += np.sin(2 * np.pi * f0 * harmonic * tt + phase) / harmonic**1.5
        out[index * length : (index + 1) * length] += note_sum * envelope
    return _normalise(out, 0.6)


def _chirps(rng: np.random.Generator, rate: int, seconds: float) -> np.ndarray:
    """Bird-like frequency-modulated chirps (2-6 kHz) over a faint noise floor."""
    n = round(seconds * rate)
    out = 2e-4 * rng.standard_normal(n)
    t = 0.1
    while t < seconds - 0.2:
        dur = rng.uniform(0.04, 0.12)
        tt = np.arange(int(dur * rate)) / rate
        f_start, f_end = rng.uniform(2000.0, 4000.0), rng.uniform(3500.0, 6000.0)
        freq = f_start + (f_end - f_start) * (tt / dur) ** 2
        chirp = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.sin(np.pi * tt / dur) ** 2
        start = int(t * rate)
        out[start : start + len(chirp)] += rng.uniform(0.3, 0.6) * chirp
        t += dur + rng.uniform(0.03, 0.25)
    return _normalise(out, 0.6)


RECIPES: dict[str, Recipe] = {
    r.clip_id: r
    for r in (
        Recipe("synthetic-speech-low-16k", "speech", 16_000, 3.0, 101,
               "speech-like voiced syllables, low pitch (~115 Hz), 16 kHz", _speech_low),
        Recipe("synthetic-speech-high-44k", "speech", 44_100, 3.0, 102,
               "speech-like voiced syllables, high pitch (~215 Hz), 44.1 kHz", _speech_high),
        Recipe("synthetic-transients-44k", "audio", 44_100, 2.5, 103,
               "knocks, claps, clicks and a glass-like ping over a noise floor", _transients),
        Recipe("synthetic-noise-44k", "audio", 44_100, 3.0, 104,
               "rain/wind-like gusting pink noise with droplets", _noise),
        Recipe("synthetic-tones-44k", "audio", 44_100, 3.0, 105,
               "440 Hz and 1 kHz tones, 2 kHz beeps, 100 Hz-8 kHz log sweep", _tones),
        Recipe("synthetic-chord-44k", "audio", 44_100, 3.0, 106,
               "harmonic chord progression C-F-G-C", _chord),
        Recipe("synthetic-chirps-44k", "audio", 44_100, 2.0, 107,
               "bird-like FM chirps 2-6 kHz", _chirps),
    )
}  # fmt: skip


@functools.lru_cache(maxsize=len(RECIPES))
def generate(clip_id: str) -> Audio:
    """The demo clip ``clip_id`` (same samples on every call and every run)."""
    try:
        recipe = RECIPES[clip_id]
    except KeyError:
        raise AudioError(
            f"generated:{clip_id}: no such demo clip; valid: {', '.join(RECIPES)}"
        ) from None
    rng = np.random.default_rng(recipe.seed)
    samples = recipe.generate(rng, recipe.rate, recipe.seconds)
    return Audio(samples.astype(np.float32), recipe.rate)


@register_dataset
class Demo(DatasetKind):
    """The built-in synthetic demo set."""

    name = "demo"
    description = "built-in SYNTHETIC demo signals (speech-like, transients, noise, tones, music)"
    needs_path = False

    def resolve(self, path: Path) -> Path:
        raise BenchError("demo is built in and takes no path; use --datasets demo")

    def list_clips(self, spec: DatasetSpec, filters: Mapping[str, Any]) -> list[Clip]:
        # One dataset name per content domain ("demo-speech", "demo-audio"): reports decide
        # which metrics apply per dataset, and PESQ/STOI must not be hidden from the speech half.
        return [
            Clip(
                dataset=f"{spec.name}-{recipe.domain}",
                clip_id=recipe.clip_id,
                domain=recipe.domain,
                path=None,
                meta=Meta(
                    description=recipe.description,
                    rate=recipe.rate,
                    seconds=recipe.seconds,
                    seed=recipe.seed,
                    generator=f"bench.datasets.demo v{GENERATOR_VERSION}",
                ),
                synthetic=True,
                kind=self.name,
            )
            for recipe in RECIPES.values()
        ]

    def group_key(self, clip: Clip) -> str:
        return clip.clip_id

    def read(self, clip: Clip) -> Audio:
        return generate(clip.clip_id)
