"""Lag between two signals, found by cross-correlation (verifying alignment, never assuming it).

Waveform codecs are checked on the waveform. Parametric vocoders (codec2) synthesise a new
waveform with its own phase, so only their energy envelope can be aligned; for them the lag is
measured on a smoothed power envelope and is only as precise as the vocoder's time smearing.
"""

from __future__ import annotations

import numpy as np

from bench.audio import Audio
from bench.errors import AudioError

#: Smoothing window of the power envelope used for vocoders, in seconds.
ENVELOPE_WINDOW_S = 0.010


def _mono_pair(reference: Audio, degraded: Audio) -> tuple[np.ndarray, np.ndarray]:
    if reference.rate != degraded.rate:
        raise AudioError(
            f"cannot compare signals at {reference.rate} Hz and {degraded.rate} Hz; resample first"
        )
    ref = reference.mono().samples[0].astype(np.float64)
    deg = degraded.mono().samples[0].astype(np.float64)
    return ref, deg


def _xcorr_lag(ref: np.ndarray, deg: np.ndarray, max_lag: int) -> int:
    if not np.any(ref) or not np.any(deg):
        return 0  # silence: no lag can be seen
    size = ref.size + deg.size
    nfft = 1 << (size - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, nfft) * np.conj(np.fft.rfft(ref, nfft)), nfft)
    max_lag = int(min(max_lag, nfft // 2 - 1))
    # corr[k] is the correlation at lag k (deg delayed by k); negative lags wrap to the end.
    window = np.concatenate([corr[-max_lag:], corr[: max_lag + 1]]) if max_lag else corr[:1]
    return int(np.argmax(window)) - max_lag


def estimate_lag(reference: Audio, degraded: Audio, max_lag: int = 4096) -> int:
    """Samples by which ``degraded`` lags ``reference`` on the waveform (negative: it leads).

    Both are mixed to mono and must share a sample rate; the lag maximises the FFT
    cross-correlation over ``[-max_lag, max_lag]``. Silent input gives 0.
    """
    ref, deg = _mono_pair(reference, degraded)
    return _xcorr_lag(ref, deg, max_lag)


def estimate_envelope_lag(reference: Audio, degraded: Audio, max_lag: int = 4096) -> int:
    """Lag of the smoothed power envelopes (for vocoders), in samples at the signals' rate."""
    ref, deg = _mono_pair(reference, degraded)
    width = max(1, round(ENVELOPE_WINDOW_S * reference.rate))
    kernel = np.ones(width) / width
    env_ref = np.sqrt(np.convolve(ref * ref, kernel, mode="same"))
    env_deg = np.sqrt(np.convolve(deg * deg, kernel, mode="same"))
    return _xcorr_lag(env_ref - env_ref.mean(), env_deg - env_deg.mean(), max_lag)


def measure_lag(reference: Audio, degraded: Audio, waveform: bool = True) -> tuple[int, str]:
    """``(lag, method)``: waveform lag, or envelope lag when ``waveform`` is false."""
    if waveform:
        return estimate_lag(reference, degraded), "waveform"
    return estimate_envelope_lag(reference, degraded), "envelope"
