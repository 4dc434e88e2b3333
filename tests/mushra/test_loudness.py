"""BS.1770-4 integrated loudness: the recommendation's coefficients and reference values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.audio import Audio
from bench.mushra.loudness import _biquad, integrated_loudness


def test_k_weighting_matches_the_48k_table_of_bs1770():
    b, a = _biquad("shelf", 48000, 1681.974450955533, 0.7071752369554196, 3.999843853973347)
    assert np.allclose(b, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    assert np.allclose(a, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-8)
    b, a = _biquad("highpass", 48000, 38.13547087602444, 0.5003270373238773)
    assert np.allclose(b, [1.0, -2.0, 1.0])
    assert np.allclose(a, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_full_scale_997_hz_sine_reads_minus_3_01_lkfs(rate: int):
    t = np.arange(rate * 5) / rate
    sine = np.sin(2 * np.pi * 997 * t).astype(np.float32)
    assert integrated_loudness(Audio(sine, rate)) == pytest.approx(-3.01, abs=0.02)
    assert integrated_loudness(Audio(0.1 * sine, rate)) == pytest.approx(-23.01, abs=0.02)


def test_gating_ignores_silence_and_quiet_parts():
    rate = 48000
    t = np.arange(rate * 4) / rate
    tone = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)
    silence = np.zeros(rate * 8, np.float32)
    with_gap = np.concatenate([tone, silence])
    with_tail = np.concatenate([tone, silence, 1e-4 * tone])
    alone = integrated_loudness(Audio(tone, rate))
    # Silence falls below the absolute gate: ungated, 8 s of it would lower the level by
    # 10 log10(3) = 4.8 dB; only the few blocks straddling the edge count (~0.2 dB).
    assert alone - 0.3 < integrated_loudness(Audio(with_gap, rate)) < alone
    # A tail 80 dB down is below the relative gate: no effect at all.
    assert integrated_loudness(Audio(with_tail, rate)) == pytest.approx(
        integrated_loudness(Audio(with_gap, rate)), abs=1e-6
    )
    assert integrated_loudness(Audio(np.zeros(rate, np.float32), rate)) == -math.inf
