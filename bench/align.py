"""Lag between two signals, found by cross-correlation (verifying alignment, never assuming it)."""

from __future__ import annotations

import numpy as np

from bench.audio import Audio
from bench.errors import AudioError


def estimate_lag(reference: Audio, degraded: Audio, max_lag: int = 4096) -> int:
    """Samples by which ``degraded`` lags ``reference`` (negative: it leads).

    Both are mixed to mono and must share a sample rate. The lag maximises the FFT
    cross-correlation over ``[-max_lag, max_lag]``; ``0`` is returned for silent input, where
    no lag can be seen.
    """
    if reference.rate != degraded.rate:
        raise AudioError(
            f"cannot compare signals at {reference.rate} Hz and {degraded.rate} Hz; resample first"
        )
    ref = reference.mono().samples[0].astype(np.float64)
    deg = degraded.mono().samples[0].astype(np.float64)
    if not np.any(ref) or not np.any(deg):
        return 0
    size = ref.size + deg.size
    nfft = 1 << (size - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, nfft) * np.conj(np.fft.rfft(ref, nfft)), nfft)
    max_lag = int(min(max_lag, nfft // 2 - 1))
    # corr[k] is the correlation at lag k (deg delayed by k); negative lags wrap to the end.
    window = np.concatenate([corr[-max_lag:], corr[: max_lag + 1]]) if max_lag else corr[:1]
    return int(np.argmax(window)) - max_lag
