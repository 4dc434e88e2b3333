"""The faster ViSQOL pipeline (bench/metrics/visqol_fast.py, visqol_kernels.py) gives what
visqol-python's own ``measure_from_arrays`` gives, on real clips through real codecs, good and bad,
and on the cases that take its rarer branches: short clips, silent stretches, dropouts (packet-loss
patches), sub-frame delays (fine realignment off the hop grid), different lengths.

The kernels perform the same floating-point operations in the same order, so in practice every
value is bit-identical; the tests allow the 1e-9 the suite promises.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.audio import Audio
from bench.codecs import get_codec
from bench.metrics import get_metric
from bench.metrics import visqol_split as vs

TOL = 1e-9


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL or (np.isnan(a) and np.isnan(b))  # visqol-python's NaN is kept


def _assert_close(fast, direct) -> None:
    assert _close(fast.moslqo, direct.moslqo)
    assert _close(fast.vnsim, direct.vnsim)
    for name in ("fvnsim", "fvnsim10", "fstdnsim", "fvdegenergy", "center_freq_bands"):
        a, b = getattr(fast, name), getattr(direct, name)
        assert a.shape == b.shape and np.allclose(a, b, rtol=0, atol=TOL, equal_nan=True), name
    assert len(fast.patch_sims) == len(direct.patch_sims)
    for a, b in zip(fast.patch_sims, direct.patch_sims, strict=True):
        assert abs(a.similarity - b.similarity) <= TOL
        times = ("ref_patch_start_time", "ref_patch_end_time")
        times += ("deg_patch_start_time", "deg_patch_end_time")
        for t in times:
            assert abs(getattr(a, t) - getattr(b, t)) <= TOL, t
        for name in ("freq_band_means", "freq_band_stddevs", "freq_band_deg_energy"):
            x, y = getattr(a, name), getattr(b, name)
            assert np.allclose(x, y, rtol=0, atol=TOL, equal_nan=True), name


def _mono(audio: Audio, mode: str) -> np.ndarray:
    return audio.resample(vs.MODE_RATES[mode]).mono().samples[0].astype(np.float64)


def _check(mode: str, reference: Audio, degraded: dict[str, Audio]) -> list[float]:
    assert vs.fast_enabled()
    ref = _mono(reference, mode)
    prepared = vs.analyse_reference(mode, ref)
    assert prepared.side is not None  # the fast pipeline is the one under test
    values = []
    for name, audio in degraded.items():
        deg = _mono(audio, mode)
        fast = vs.compare(prepared, deg)
        direct = vs.measure_direct(mode, ref, deg)
        try:
            _assert_close(fast, direct)
        except AssertionError as exc:
            raise AssertionError(f"{mode} {name}: {exc}") from exc
        values.append(fast.moslqo)
    return values


def _codec_points(clip: Audio, points: list[tuple[str, float]]) -> dict[str, Audio]:
    out = {}
    for codec, kbps in points:
        _, decoded = get_codec(codec).roundtrip(clip, kbps)
        out[f"{codec}{kbps:g}"] = decoded
    return out


def _shift(audio: Audio, frames: int) -> Audio:
    samples = audio.samples.astype(np.float64)
    pad = np.zeros((audio.channels, abs(frames)))
    if frames > 0:
        return Audio(np.concatenate([pad, samples[:, :-frames]], axis=1), audio.rate)
    return Audio(np.concatenate([samples[:, -frames:], pad], axis=1), audio.rate)


def _dropouts(audio: Audio, seconds: float, every: float) -> Audio:
    samples = audio.samples.astype(np.float64).copy()
    step, gap = round(every * audio.rate), round(seconds * audio.rate)
    for start in range(step // 2, audio.frames - gap, step):
        samples[:, start : start + gap] = 0.0
    return Audio(samples, audio.rate)


def _edge_cases(clip: Audio, with_noise) -> dict[str, Audio]:
    noisy = with_noise(clip, 35.0, seed=3)
    return {
        "identical": clip,
        "noise0dB": with_noise(clip, 0.0),  # far worse than any codec
        "delay37": _shift(noisy, 37),  # fine realignment off the hop grid
        "lead500": _shift(noisy, -500),
        "dropouts": _dropouts(noisy, 0.12, 0.5),
        "longer": Audio(
            np.concatenate([noisy.samples, noisy.samples[:, : round(0.3 * clip.rate)]], axis=1),
            clip.rate,
        ),
        "shorter": noisy.segment(0, noisy.frames - round(0.2 * clip.rate)),
    }


def test_audio_mode_through_codecs_equals_visqol_python(horn_clip: Audio) -> None:
    points = [("opus", 6.0), ("opus", 32.0), ("mp3", 32.0), ("aac", 24.0), ("vorbis", 48.0)]
    values = _check("audio", horn_clip, _codec_points(horn_clip, points))
    assert values[0] < values[1]  # a bad codec point scores lower than a good one


def test_speech_mode_through_codecs_equals_visqol_python(speech_2s5: Audio) -> None:
    points = [("opus", 6.0), ("opus", 24.0), ("speex", 8.0), ("amrnb", 4.75), ("g722", 64.0)]
    _check("speech", speech_2s5, _codec_points(speech_2s5, points))


@pytest.mark.parametrize(
    ("mode", "clip_name"), [("audio", "esc50_clip"), ("speech", "short_speech")]
)
def test_edge_cases_equal_visqol_python(
    request, monkeypatch: pytest.MonkeyPatch, with_noise, mode: str, clip_name: str
) -> None:
    from bench.metrics import visqol_fast

    ways = {"cut": 0, "built": 0}
    original = visqol_fast.SignalSpectrogram.slice

    def counting(self, builder, part, start, window):  # type: ignore[no-untyped-def]
        before = self.reused
        out = original(self, builder, part, start, window)
        ways["cut" if self.reused > before else "built"] += 1
        return out

    monkeypatch.setattr(visqol_fast.SignalSpectrogram, "slice", counting)
    clip = request.getfixturevalue(clip_name)
    _check(mode, clip, _edge_cases(clip, with_noise))
    # both ways of getting a realignment slice's spectrogram were exercised
    assert ways["cut"] > 0 and ways["built"] > 0, ways


@pytest.mark.parametrize("mode", ["audio", "speech"])
def test_short_clip_and_silent_stretch(horn_clip: Audio, speech_2s5: Audio, with_noise, mode):
    clip = horn_clip if mode == "audio" else speech_2s5
    short = clip.segment(0, round(1.2 * clip.rate))
    _check(
        mode,
        short,
        {
            "noise20": with_noise(short, 20.0),
            "opus12": _codec_points(short, [("opus", 12.0)])["opus12"],
        },
    )
    # half a second of digital silence inside the reference (and its noisy version)
    samples = clip.samples.astype(np.float64).copy()
    samples[:, round(0.5 * clip.rate) : round(1.0 * clip.rate)] = 0.0
    gapped = Audio(samples, clip.rate)
    _check(mode, gapped, {"noise30": with_noise(gapped, 30.0), "same": gapped})


def test_metric_values_equal_visqol_pythons_call(horn_clip: Audio, with_noise) -> None:
    metric = get_metric("visqol_audio")
    state = metric.prepare(horn_clip)
    degraded = with_noise(horn_clip, 25.0)
    direct = vs.measure_direct("audio", _mono(horn_clip, "audio"), _mono(degraded, "audio"))
    assert abs(metric.score_prepared(state, degraded).value - direct.moslqo) <= TOL


def test_gammatone_kernel_is_visqol_pythons(horn_clip: Audio) -> None:
    from visqol.analysis_window import AnalysisWindow
    from visqol.audio_utils import AudioSignal

    from bench.metrics import visqol_fast

    for mode in ("audio", "speech"):
        builder = vs.get_api(mode)._manager.spect_builder
        rate = vs.MODE_RATES[mode]
        window = AnalysisWindow(rate, 0.25)
        data = _mono(horn_clip, mode)
        for part in (data, data[:rate], data[123 : 123 + window.size + 1]):  # 33, 1 or 2 lanes
            ours = visqol_fast.build_spectrogram(builder, part, rate, window)
            theirs = builder.build(AudioSignal(part, rate), window)
            assert np.array_equal(ours.data, theirs.data)
            assert np.array_equal(ours.center_freq_bands, theirs.center_freq_bands)
        with pytest.raises(ValueError, match="Too few samples"):
            visqol_fast.build_spectrogram(builder, data[: window.size], rate, window)


def test_vad_patch_indices_are_visqol_pythons(speech_2s5: Audio, short_speech: Audio) -> None:
    from visqol.analysis_window import AnalysisWindow
    from visqol.audio_utils import AudioSignal

    from bench.metrics import visqol_fast

    manager = vs.get_api("speech")._manager
    window = AnalysisWindow(16000, 0.25)
    for clip in (speech_2s5, short_speech):
        data = _mono(clip, "speech")
        data = data.copy()
        data[4000:14000] *= 1e-3  # a quiet stretch, below the detector's threshold
        signal = AudioSignal(data, 16000)
        spectrogram = visqol_fast.build_spectrogram(manager.spect_builder, data, 16000, window)
        expected = manager.patch_creator.create_ref_patch_indices(spectrogram.data, signal, window)
        ours = visqol_fast.vad_patch_indices(
            manager.patch_creator, spectrogram.data, signal, window
        )
        assert ours == expected


def test_without_the_fast_kernels_values_are_the_same(short_speech: Audio, with_noise) -> None:
    ref = _mono(short_speech, "speech")
    deg = _mono(with_noise(short_speech, 30.0), "speech")
    fast = vs.compare(vs.analyse_reference("speech", ref), deg)
    vs.set_fast(False)
    try:
        prepared = vs.analyse_reference("speech", ref)
        assert prepared.side is None
        split = vs.compare(prepared, deg)
    finally:
        vs.set_fast(True)
    _assert_close(fast, split)


def test_reference_memo_stops_at_its_byte_budget() -> None:
    from bench.metrics import visqol_fast

    memo = visqol_fast._Bounded(budget=1000)
    first = memo.put("a", np.zeros(100))  # 800 bytes: kept
    second = memo.put("b", np.zeros(100))  # would exceed 1000: returned, not kept
    assert first.size == second.size == 100
    assert list(memo) == ["a"] and memo.nbytes == 800
