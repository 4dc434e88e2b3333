"""The MUSHRA low-pass anchors (ITU-R BS.1534-3, section 5.1), zero-phase, with their mask.

BS.1534-3 asks for two anchors made from the reference: a low-quality anchor low-pass filtered
at 3.5 kHz ("LPA35") and a mid-quality anchor at 7 kHz ("LPA70"). The recommendation names the
cut-off frequencies; the tolerances below are this suite's reading of "a low-pass at f_c" and are
what :func:`check_mask` verifies on the *measured* response of :func:`lowpass`:

* -3 dB (within :data:`CUTOFF_TOL_DB`) at the cut-off frequency f_c;
* passband flat within :data:`PASSBAND_RIPPLE_DB` from 0 Hz to ``PASSBAND_EDGE * f_c``;
* at least :data:`STOPBAND_DB` of attenuation from ``STOPBAND_EDGE * f_c`` to Nyquist;
* zero phase: the signal is not delayed (an impulse stays centred, symmetric).

The filter works in the frequency domain: the whole signal (zero-padded, so the circular
convolution does not wrap) is multiplied by a real, non-negative gain, which has no phase at all.
The transition is a quarter cosine from ``PASSBAND_EDGE * f_c`` to ``STOPBAND_EDGE * f_c``, whose
value at f_c is cos(pi/4) = -3.01 dB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.audio import Audio

#: Cut-off frequencies (Hz) of the two anchors, by condition kind.
ANCHORS: dict[str, float] = {"anchor_lp35": 3500.0, "anchor_lp70": 7000.0}

#: The passband ends, and the stopband starts, at these fractions of f_c.
PASSBAND_EDGE, STOPBAND_EDGE = 0.95, 1.05
PASSBAND_RIPPLE_DB = 0.1
STOPBAND_DB = 60.0
CUTOFF_DB, CUTOFF_TOL_DB = -3.0, 0.5


def gain_curve(freqs: np.ndarray, cutoff: float) -> np.ndarray:
    """The filter's (real, zero-phase) amplitude gain at ``freqs`` Hz."""
    lo, hi = PASSBAND_EDGE * cutoff, STOPBAND_EDGE * cutoff
    t = np.clip((np.abs(freqs) - lo) / (hi - lo), 0.0, 1.0)
    return np.cos(0.5 * np.pi * t)


def lowpass(audio: Audio, cutoff: float) -> Audio:
    """``audio`` low-pass filtered at ``cutoff`` Hz with zero phase (no delay), same length.

    A cut-off at or above Nyquist returns the audio unchanged (nothing to remove)."""
    if cutoff <= 0:
        raise ValueError(f"cut-off must be positive, got {cutoff!r}")
    if cutoff * STOPBAND_EDGE >= audio.rate / 2:
        return audio
    x = audio.samples.astype(np.float64)
    # Pad by the impulse response's effective length (the transition is 10 % of f_c wide, so
    # the response has decayed far below 16-bit resolution after ~40 / (0.1 f_c) seconds).
    pad = int(np.ceil(400.0 / cutoff * audio.rate)) + 1
    n = x.shape[1] + 2 * pad
    size = 1 << int(np.ceil(np.log2(n)))
    padded = np.zeros((x.shape[0], size))
    padded[:, pad : pad + x.shape[1]] = x
    spectrum = np.fft.rfft(padded, axis=1)
    spectrum *= gain_curve(np.fft.rfftfreq(size, 1.0 / audio.rate), cutoff)
    y = np.fft.irfft(spectrum, n=size, axis=1)[:, pad : pad + x.shape[1]]
    return Audio(y.astype(np.float32), audio.rate)


def anchor(audio: Audio, kind: str) -> Audio:
    """The anchor ``kind`` (``"anchor_lp35"`` or ``"anchor_lp70"``) of ``audio``."""
    try:
        cutoff = ANCHORS[kind]
    except KeyError:
        raise ValueError(f"unknown anchor {kind!r}; valid: {', '.join(ANCHORS)}") from None
    return lowpass(audio, cutoff)


@dataclass(frozen=True)
class MaskReport:
    """The measured response of the anchor filter against the mask (dB values)."""

    cutoff: float
    rate: int
    passband_ripple_db: float
    cutoff_gain_db: float
    stopband_gain_db: float
    delay_samples: int
    asymmetry: float

    @property
    def ok(self) -> bool:
        """True when every part of the mask is met."""
        return (
            self.passband_ripple_db <= PASSBAND_RIPPLE_DB
            and abs(self.cutoff_gain_db - CUTOFF_DB) <= CUTOFF_TOL_DB
            and self.stopband_gain_db <= -STOPBAND_DB
            and self.delay_samples == 0
            and self.asymmetry < 1e-6
        )


def measure_response(cutoff: float, rate: int, seconds: float = 1.0) -> MaskReport:
    """Filter a centred unit impulse with :func:`lowpass` and measure its response.

    The magnitude comes from the FFT of the output impulse response (fine grid: ``seconds``
    long); the delay is the position of its peak relative to the input impulse, and the
    asymmetry the largest difference between the response and its time reverse.
    """
    n = int(rate * seconds) | 1  # odd, so the impulse sits exactly in the middle
    impulse = np.zeros((1, n), dtype=np.float32)
    centre = n // 2
    impulse[0, centre] = 1.0
    h = lowpass(Audio(impulse, rate), cutoff).samples[0].astype(np.float64)
    magnitude = np.abs(np.fft.rfft(np.roll(h, -centre)))
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    db = 20 * np.log10(np.maximum(magnitude, 1e-12))
    passband = db[freqs <= PASSBAND_EDGE * cutoff]
    stopband = db[freqs >= STOPBAND_EDGE * cutoff]
    at_cutoff = float(np.interp(cutoff, freqs, db))
    return MaskReport(
        cutoff=cutoff,
        rate=rate,
        passband_ripple_db=float(np.max(np.abs(passband))),
        cutoff_gain_db=at_cutoff,
        stopband_gain_db=float(np.max(stopband)) if stopband.size else -np.inf,
        delay_samples=int(np.argmax(np.abs(h))) - centre,
        asymmetry=float(np.max(np.abs(h - h[::-1]))),
    )


def check_mask(cutoff: float, rate: int) -> MaskReport:
    """:func:`measure_response`, raising ``ValueError`` that names the failed parts."""
    report = measure_response(cutoff, rate)
    if not report.ok:
        raise ValueError(f"anchor filter at {cutoff:g} Hz, {rate} Hz misses the mask: {report}")
    return report
