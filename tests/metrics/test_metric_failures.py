"""Failures are data: every reason in REASONS is produced by a real input, none raises."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from bench.audio import Audio
from bench.metrics import (
    REASONS,
    Metric,
    MetricResult,
    all_metrics,
    get_metric,
    prepare_reference,
    score_degraded,
)
from bench.metrics.pesq_metrics import PesqWideband


def _zeros_like(audio: Audio) -> Audio:
    return Audio(np.zeros_like(audio.samples), audio.rate)


def _seconds(audio: Audio, seconds: float) -> Audio:
    return audio.segment(0, round(seconds * audio.rate))


class _Exploding(Metric):
    """A metric whose library raises, as a broken or surprised library would."""

    name = "exploding"

    def _prepare(self, reference: Audio) -> object:
        return None

    def _score(self, data: object, degraded: Audio) -> MetricResult:
        raise RuntimeError("library exploded")


#: (reason, metric, builder of (reference, degraded) from the fixtures)
CASES: list[tuple[str, str, Callable[..., tuple[object, object]]]] = [
    # too short: below each metric's documented minimum
    ("too_short", "pesq_wb", lambda f: (_seconds(f.short_speech, 0.2),) * 2),
    ("too_short", "pesq_nb", lambda f: (_seconds(f.short_speech, 0.2),) * 2),
    ("too_short", "visqol_audio", lambda f: (_seconds(f.horn_clip, 0.9),) * 2),
    ("too_short", "visqol_speech", lambda f: (_seconds(f.short_speech, 0.9),) * 2),
    ("too_short", "stoi", lambda f: (_seconds(f.short_speech, 0.3),) * 2),
    # a real dog-bark clip: only 23 STFT frames survive STOI's silence removal
    ("too_short", "estoi", lambda f: (f.esc50_clip, f.esc50_clip)),
    ("too_short", "lsd", lambda f: (_seconds(f.short_speech, 0.05),) * 2),
    ("too_short", "mel_distance", lambda f: (_seconds(f.short_speech, 0.05),) * 2),
    # silent reference
    *[
        ("silent", name, lambda f: (_zeros_like(f.short_speech), f.short_speech))
        for name in (
            "snr",
            "si_sdr",
            "lsd",
            "mel_distance",
            "stoi",
            "estoi",
            "pesq_wb",
            "pesq_nb",
            "visqol_speech",
        )
    ],
    ("silent", "visqol_audio", lambda f: (_zeros_like(f.horn_clip), f.horn_clip)),
    # a stereo reference whose channels cancel: the mono mix that PESQ scores is silent
    (
        "silent",
        "pesq_wb",
        lambda f: (
            Audio(np.stack([f.short_speech.samples[0], -f.short_speech.samples[0]]), 16000),
            f.short_speech.to_channels(2),
        ),
    ),
    # silent degraded signal, where the metric is undefined for it
    *[
        ("silent", name, lambda f: (f.short_speech, _zeros_like(f.short_speech)))
        for name in ("si_sdr", "estoi", "pesq_wb", "pesq_nb", "visqol_speech")
    ],
    ("silent", "visqol_audio", lambda f: (f.horn_clip, _zeros_like(f.horn_clip))),
    # PESQ's voice-activity detection finds no utterance in a real rain recording
    ("no_utterance", "pesq_wb", lambda f: (f.rain_clip, f.with_noise(f.rain_clip, 30.0))),
    ("no_utterance", "pesq_nb", lambda f: (f.rain_clip, f.with_noise(f.rain_clip, 30.0))),
    # raw arrays holding NaN or inf (an Audio cannot hold them)
    *[
        (
            "non_finite",
            name,
            lambda f: ("arrays", f.short_speech.samples[0], _poison(f.short_speech.samples[0])),
        )
        for name in ("snr", "psnr", "si_sdr", "lsd", "stoi", "pesq_wb", "visqol_speech")
    ],
    (
        "non_finite",
        "mel_distance",
        lambda f: (
            "arrays",
            _poison(f.short_speech.samples[0], math.inf),
            f.short_speech.samples[0],
        ),
    ),
    # lengths, rates and channel counts that differ
    ("length_mismatch", "snr", lambda f: (f.short_speech, _seconds(f.short_speech, 2.0))),
    ("length_mismatch", "pesq_wb", lambda f: (f.short_speech, _seconds(f.short_speech, 2.0))),
    # ViSQOL aligns a degraded signal of another length itself; another rate is a mismatch
    (
        "length_mismatch",
        "visqol_speech",
        lambda f: ("prepared", f.short_speech, Audio(f.short_speech.samples, 16001)),
    ),
    (
        "length_mismatch",
        "psnr",
        lambda f: ("arrays", f.short_speech.samples[0], f.short_speech.samples[0][:-1]),
    ),
    (
        "length_mismatch",
        "si_sdr",
        lambda f: ("prepared", f.short_speech, Audio(f.short_speech.samples, 16001)),
    ),
    (
        "length_mismatch",
        "lsd",
        lambda f: ("prepared", f.short_speech, f.short_speech.to_channels(2)),
    ),
    # the library raises something unexpected
    ("error", "exploding", lambda f: (f.short_speech, f.short_speech)),
    ("error", "pesq_wb", lambda f: ("patched", f.short_speech, f.short_speech)),
]


def _poison(samples: np.ndarray, value: float = math.nan) -> np.ndarray:
    out = samples.astype(np.float64)
    out[len(out) // 2] = value
    return out


class _Fixtures:
    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request

    def __getattr__(self, name: str) -> object:
        return self._request.getfixturevalue(name)


def _run(case: tuple[object, ...], name: str, monkeypatch: pytest.MonkeyPatch) -> MetricResult:
    metric = _Exploding() if name == "exploding" else get_metric(name)
    if case[0] == "arrays":
        _, ref, deg = case
        return metric.score_arrays(ref, deg, 16000)
    if case[0] == "prepared":  # through the shared path, which checks rate/channels/length
        _, ref, deg = case
        return score_degraded(prepare_reference([metric], ref), deg)[name]
    if case[0] == "patched":
        import pesq

        def broken(*args: object, **kwargs: object) -> float:
            raise MemoryError("out of memory in P.862")

        monkeypatch.setattr(pesq, "pesq", broken)
        _, ref, deg = case
        return metric.score(ref, deg)
    ref, deg = case
    return metric.score(ref, deg)


@pytest.mark.parametrize(
    ("reason", "name", "build"),
    CASES,
    ids=[f"{reason}-{name}-{i}" for i, (reason, name, _) in enumerate(CASES)],
)
def test_failure_is_nan_with_a_reason(request, monkeypatch, reason: str, name: str, build) -> None:
    result = _run(build(_Fixtures(request)), name, monkeypatch)
    assert math.isnan(result.value)
    assert result.reason == reason, result
    assert not result.ok
    if reason == "error":
        assert result.detail and ("exploded" in result.detail or "MemoryError" in result.detail)


def test_every_reason_is_produced_by_some_input() -> None:
    assert {reason for reason, _, _ in CASES} == set(REASONS)


def test_the_library_short_buffer_error_is_too_short(short_speech: Audio) -> None:
    metric = PesqWideband()
    metric.min_duration = 0.0  # let the P.862 code itself refuse the 0.2-s buffer
    clip = _seconds(short_speech, 0.2)
    result = metric.score(clip, clip)
    assert result.reason == "too_short" and "1/4 of a second" in (result.detail or "")


def test_a_silent_reference_never_stops_a_run(short_speech: Audio) -> None:
    metrics = [*all_metrics().values(), _Exploding()]
    silent = _zeros_like(short_speech)
    prepared = prepare_reference(metrics, silent, "speech")
    results = score_degraded(prepared, short_speech)
    assert set(results) == {m.name for m in metrics}
    assert results["psnr"].ok  # defined by the error alone
    reference_free = {m.name for m in metrics if not m.intrusive}
    assert reference_free  # DNSMOS: scores the (non-silent) degraded signal on its own
    for name, result in results.items():
        if name in reference_free:
            assert result.ok, (name, result)
        elif name != "psnr":
            assert math.isnan(result.value) and result.reason in REASONS, (name, result)
    assert results["visqol_audio"].reason == "silent"
    assert not results["visqol_audio"].applicable  # an audio metric on speech content


def test_a_raising_metric_does_not_take_the_others_down(short_speech: Audio, with_noise) -> None:
    metrics = [get_metric("snr"), _Exploding(), get_metric("pesq_wb")]
    results = score_degraded(prepare_reference(metrics, short_speech), with_noise(short_speech, 20))
    assert results["exploding"].reason == "error"
    assert results["exploding"].detail == "RuntimeError: library exploded"
    assert results["snr"].value == pytest.approx(20.0, abs=0.1) and results["pesq_wb"].ok


def test_fail_rejects_unknown_reasons() -> None:
    with pytest.raises(ValueError, match="unknown reason"):
        MetricResult.fail("not_a_reason")
