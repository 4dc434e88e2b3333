"""Integrated loudness after ITU-R BS.1770-4 (K-weighting, 400 ms blocks, two gates), in numpy.

The K-weighting is the recommendation's two biquads (a high shelf of about +4 dB above 1.5 kHz,
then a high-pass near 38 Hz). BS.1770 gives their coefficients at 48 kHz; for other rates they
are derived from the same analogue prototype by the bilinear transform (as libebur128 and
pyloudnorm do), which reproduces the 48 kHz table to 1e-8. Channels are summed with weight 1
(mono/stereo content; no surround weights are needed here).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import lfilter

from bench.audio import Audio

#: The method named in key.json.
METHOD = "ITU-R BS.1770-4 integrated loudness (K-weighted, gated)"

ABSOLUTE_GATE_LUFS, RELATIVE_GATE_LU = -70.0, -10.0
BLOCK_S, OVERLAP = 0.4, 0.75


def _biquad(kind: str, rate: int, f0: float, q: float, gain_db: float = 0.0):  # type: ignore[no-untyped-def]
    k = math.tan(math.pi * f0 / rate)
    if kind == "shelf":
        vh = 10 ** (gain_db / 20)
        vb = vh**0.4996667741545416
        a0 = 1 + k / q + k * k
        b = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
        a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    else:  # high-pass
        a0 = 1 + k / q + k * k
        b = [1.0, -2.0, 1.0]
        a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array(b), np.array(a)


def k_weight(samples: np.ndarray, rate: int) -> np.ndarray:
    """K-weighted copy of ``samples`` (channels, frames)."""
    b1, a1 = _biquad("shelf", rate, 1681.974450955533, 0.7071752369554196, 3.999843853973347)
    b2, a2 = _biquad("highpass", rate, 38.13547087602444, 0.5003270373238773)
    return lfilter(b2, a2, lfilter(b1, a1, samples.astype(np.float64), axis=-1), axis=-1)


def integrated_loudness(audio: Audio) -> float:
    """Integrated loudness of ``audio`` in LUFS (``-inf`` for silence).

    A signal shorter than one 400 ms block is measured as one block over its whole length.
    """
    weighted = k_weight(audio.samples, audio.rate)
    block = round(BLOCK_S * audio.rate)
    step = max(1, round(block * (1 - OVERLAP)))
    frames = weighted.shape[1]
    if frames < block:
        starts, block = [0], max(frames, 1)
    else:
        starts = list(range(0, frames - block + 1, step))
    power = weighted**2
    cumulative = np.concatenate([np.zeros((power.shape[0], 1)), np.cumsum(power, axis=1)], axis=1)
    z = np.array([(cumulative[:, s + block] - cumulative[:, s]) / block for s in starts])
    energy = z.sum(axis=1)  # channel weights 1
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(energy)
    gated = energy[loud > ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return -math.inf
    relative = -0.691 + 10 * math.log10(gated.mean()) + RELATIVE_GATE_LU
    kept = energy[(loud > ABSOLUTE_GATE_LUFS) & (loud > relative)]
    return float(-0.691 + 10 * math.log10(kept.mean()))
