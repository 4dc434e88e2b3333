"""The low-pass anchors against their mask, measured on the filter's actual response."""

from __future__ import annotations

import numpy as np
import pytest

from bench.audio import Audio
from bench.mushra import anchors
from bench.mushra.anchors import ANCHORS, anchor, check_mask, lowpass, measure_response


@pytest.mark.parametrize("rate", [16000, 32000, 44100, 48000])
@pytest.mark.parametrize("kind", sorted(ANCHORS))
def test_anchor_filters_meet_the_mask(kind: str, rate: int):
    report = check_mask(ANCHORS[kind], rate)
    assert report.ok
    assert report.passband_ripple_db <= 0.1
    assert abs(report.cutoff_gain_db - (-3.0)) <= 0.5
    assert report.stopband_gain_db <= -60
    assert report.delay_samples == 0


def test_mask_check_fails_for_a_filter_that_misses_it(monkeypatch: pytest.MonkeyPatch):
    # A gentle first-order-like roll-off: far too little stopband attenuation.
    monkeypatch.setattr(anchors, "gain_curve", lambda f, fc: 1 / np.sqrt(1 + (np.abs(f) / fc) ** 2))
    report = measure_response(3500.0, 44100)
    assert not report.ok and report.stopband_gain_db > -60
    with pytest.raises(ValueError, match="misses the mask"):
        check_mask(3500.0, 44100)


def test_sines_pass_or_are_removed_and_nothing_is_delayed():
    rate = 44100
    t = np.arange(rate) / rate
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 5000 * t)
    out = lowpass(Audio((0.4 * (low + high)).astype(np.float32), rate), 3500.0)
    middle = slice(rate // 4, 3 * rate // 4)  # away from the ends
    residual = out.samples[0, middle] - 0.4 * low[middle]
    assert np.max(np.abs(residual)) < 1e-3  # 5 kHz gone, 1 kHz unchanged in phase and level
    assert out.frames == rate and out.rate == rate


def test_anchor_names_and_no_op_above_nyquist():
    audio = Audio(np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1, 8000)
    assert np.array_equal(anchor(audio, "anchor_lp70").samples, audio.samples)  # 7 kHz > 4 kHz
    assert not np.array_equal(anchor(audio, "anchor_lp35").samples, audio.samples)
    with pytest.raises(ValueError, match="unknown anchor"):
        anchor(audio, "anchor_lp99")
