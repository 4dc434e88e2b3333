"""Cheap general-audio metrics on short-time spectra: log-spectral distance and mel distance.

Both work at the input's rate on every channel, with one STFT definition:

* frame length ``n_fft`` = the smallest power of two covering 40 ms (512 at 8 kHz, 1024 at
  16 kHz, 2048 at 44.1/48 kHz), hop ``n_fft / 4``, periodic Hann window, only frames that lie
  wholly inside the signal (no padding), one-sided power spectrum ``|X|^2`` (``n_fft/2 + 1``
  bins from 0 Hz to Nyquist);
* a floor 80 dB below the reference's largest value (bin power for LSD, band energy for the
  mel distance) is applied to both spectra before the logarithm, so inaudibly quiet detail
  and digital silence do not produce unbounded log differences.

The reference's spectra are computed once per clip (:meth:`Metric.prepare`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.metrics import register_metric
from bench.metrics.base import Metric, MetricResult

#: Frames cover at least this long (seconds).
FRAME_SECONDS = 0.040
#: Floor below the reference's maximum, as a power ratio (-80 dB).
FLOOR_RATIO = 1e-8
#: Mel bands (HTK mel scale, triangles from 0 Hz to Nyquist).
MEL_BANDS = 64


def frame_length(rate: int) -> int:
    """STFT length at ``rate``: the smallest power of two of at least 40 ms."""
    return 1 << math.ceil(math.log2(FRAME_SECONDS * rate))


def power_spectrogram(samples: np.ndarray, n_fft: int) -> np.ndarray:
    """``|STFT|^2`` of ``(channels, frames)`` samples: shape ``(channels, T, n_fft//2 + 1)``."""
    x = np.atleast_2d(np.asarray(samples, dtype=np.float64))
    hop = n_fft // 4
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, ::hop, :]
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=-1)
    return spectrum.real**2 + spectrum.imag**2


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(rate: int, n_fft: int, bands: int = MEL_BANDS) -> np.ndarray:
    """``(bands, n_fft//2 + 1)`` triangular filters (peak 1) equally spaced on the mel scale
    from 0 Hz to ``rate / 2`` (read-only; cached)."""
    edges = mel_to_hz(np.linspace(0.0, float(hz_to_mel(rate / 2.0)), bands + 2))
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (centre - lower)
    falling = (upper - freqs) / (upper - centre)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank.setflags(write=False)
    return bank


def _floored_db(power: np.ndarray, floor: float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, floor))


@dataclass(frozen=True)
class _SpectralReference:
    n_fft: int
    floor: float
    ref_db: np.ndarray


class _SpectralMetric(Metric):
    channels: ClassVar[str] = "all"
    unit: ClassVar[str] = "dB"
    higher_is_better: ClassVar[bool] = False
    best: ClassVar[float | None] = 0.0

    def _features(self, samples: np.ndarray, rate: int, n_fft: int) -> np.ndarray:
        return power_spectrogram(samples, n_fft)

    def _prepare(self, reference: Audio) -> Any:
        n_fft = frame_length(reference.rate)
        if reference.frames < n_fft:
            return MetricResult.fail(
                "too_short",
                f"{reference.frames} frames at {reference.rate} Hz is shorter than one "
                f"{n_fft}-sample analysis frame",
            )
        features = self._features(reference.samples, reference.rate, n_fft)
        floor = FLOOR_RATIO * float(features.max())
        if floor <= 0.0:
            return MetricResult.fail("silent", "reference has no energy in any analysis frame")
        return _SpectralReference(n_fft, floor, _floored_db(features, floor))

    def _degraded_db(self, data: _SpectralReference, degraded: Audio) -> np.ndarray:
        features = self._features(degraded.samples, degraded.rate, data.n_fft)
        return _floored_db(features, data.floor)


@register_metric
class LogSpectralDistance(_SpectralMetric):
    name = "lsd"
    description = (
        "log-spectral distance: mean over frames of the RMS over bins of the dB difference of "
        "the power spectra (floored 80 dB below the reference peak)"
    )

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        diff = data.ref_db - self._degraded_db(data, degraded)
        return MetricResult(float(np.mean(np.sqrt(np.mean(diff * diff, axis=-1)))))


@register_metric
class MelDistance(_SpectralMetric):
    name = "mel_distance"
    description = (
        f"mean absolute dB difference of {MEL_BANDS}-band mel energies (HTK triangles, "
        "0 Hz to Nyquist, floored 80 dB below the reference peak)"
    )

    def _features(self, samples: np.ndarray, rate: int, n_fft: int) -> np.ndarray:
        return power_spectrogram(samples, n_fft) @ mel_filterbank(rate, n_fft).T

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        diff = data.ref_db - self._degraded_db(data, degraded)
        return MetricResult(float(np.mean(np.abs(diff))))
