"""Shared preparation: one resampling per distinct rate, one reference analysis per clip, and
the same values as scoring each metric on its own."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from bench.audio import Audio
from bench.metrics import all_metrics, get_metric, prepare_reference, score_degraded
from bench.metrics import visqol_split as vs


@pytest.fixture()
def resample_calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts real resamplings (source rate -> target rate) done through Audio.resample."""
    calls: Counter = Counter()
    original = Audio.resample

    def counting(self: Audio, rate: int) -> Audio:
        if int(rate) != self.rate:
            calls[(self.rate, int(rate))] += 1
        return original(self, rate)

    monkeypatch.setattr(Audio, "resample", counting)
    return calls


def test_each_signal_is_resampled_once_per_distinct_rate(
    horn_clip: Audio, with_noise, resample_calls: Counter
) -> None:
    metrics = list(all_metrics().values())  # rates: input, 10k, 16k, 8k, 48k
    prepared = prepare_reference(metrics, horn_clip, "audio")
    expected = Counter({(44100, r): 1 for r in (10000, 16000, 8000, 48000)})
    assert resample_calls == expected
    for snr in (30.0, 10.0):
        score_degraded(prepared, with_noise(horn_clip, snr))
    assert resample_calls == Counter({key: 3 for key in expected})


def test_visqol_reference_analysis_runs_once_per_clip(
    monkeypatch: pytest.MonkeyPatch, short_speech: Audio, with_noise
) -> None:
    calls = []
    original = vs.analyse_reference

    def counting(*args: object) -> object:
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr("bench.metrics.visqol_metrics.analyse_reference", counting)
    prepared = prepare_reference([get_metric("visqol_speech")], short_speech)
    for snr in (40.0, 30.0, 20.0):
        assert score_degraded(prepared, with_noise(short_speech, snr))["visqol_speech"].ok
    assert calls == ["speech"]


def test_shared_path_gives_the_values_of_each_metric_alone(short_speech: Audio, with_noise) -> None:
    metrics = list(all_metrics().values())
    degraded = with_noise(short_speech, 25.0)
    shared = score_degraded(prepare_reference(metrics, short_speech), degraded)
    for metric in metrics:
        alone = metric.score(short_speech, degraded)
        got = shared[metric.name]
        assert got.reason == alone.reason, metric.name
        if metric.name == "estoi":  # pystoi adds eps-sized random noise inside ESTOI
            assert got.value == pytest.approx(alone.value, abs=1e-9)
        else:
            assert got.value == alone.value or (math.isnan(got.value) and math.isnan(alone.value))


def test_results_are_marked_with_their_applicability(short_speech: Audio, with_noise) -> None:
    metrics = [get_metric(n) for n in ("snr", "pesq_wb", "visqol_audio")]
    degraded = with_noise(short_speech, 20.0)
    on_audio = score_degraded(prepare_reference(metrics, short_speech, "audio"), degraded)
    assert [on_audio[n].applicable for n in ("snr", "pesq_wb", "visqol_audio")] == [
        True,
        False,
        True,
    ]
    assert on_audio["pesq_wb"].ok  # computed all the same, for a greyed-out column
    unknown = score_degraded(prepare_reference(metrics, short_speech), degraded)
    assert all(r.applicable for r in unknown.values())
    assert unknown["pesq_wb"].value == on_audio["pesq_wb"].value


def test_time_spent_per_metric_is_recorded(short_speech: Audio) -> None:
    metrics = [get_metric(n) for n in ("snr", "stoi")]
    prepared = prepare_reference(metrics, short_speech)
    score_degraded(prepared, short_speech)
    assert set(prepared.seconds) == {"snr", "stoi"}
    assert all(s > 0 for s in prepared.seconds.values())
    assert prepared.rates() == {"snr": 16000, "stoi": 10000}
    assert prepared.resampler.startswith("soxr ")


def test_channel_rules_decide_what_a_channel_mismatch_means(short_speech: Audio) -> None:
    stereo = Audio(np.stack([short_speech.samples[0], 0.5 * short_speech.samples[0]]), 16000)
    metrics = [get_metric(n) for n in ("snr", "pesq_wb")]
    results = score_degraded(prepare_reference(metrics, stereo), stereo.mono())
    assert results["snr"].reason == "length_mismatch"  # "all": channels must match
    assert results["pesq_wb"].value == pytest.approx(4.6438885, abs=1e-6)  # "mono": mixes match
