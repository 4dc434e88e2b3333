"""DNSMOS and PLCMOS (bench/metrics/mos_metrics.py): reference-free metrics on real LibriSpeech
utterances, checked against speechmos's own calls, plus the reference-free framework."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.audio import Audio, load_audio
from bench.codecs import get_codec
from bench.metrics import get_metric, prepare_reference, resolve_metrics, score_degraded
from bench.metrics import mos_metrics as mm
from bench.report import MetricInfo

DNSMOS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")


def _utterance(librispeech_dir: Path, name: str) -> Audio:
    found = sorted(librispeech_dir.glob(f"*/*/*/{name}"))
    if not found:
        pytest.fail(f"LibriSpeech utterance {name} missing", pytrace=False)
    return load_audio(found[0])


@pytest.fixture(scope="module")
def long_speech(librispeech_dir: Path) -> Audio:
    """11.7 s: two DNSMOS segments."""
    return _utterance(librispeech_dir, "2412-153948-0000.flac")


@pytest.fixture(scope="module")
def speech(librispeech_dir: Path) -> Audio:
    """2.5 s: shorter than a segment, so speechmos repeats it."""
    return _utterance(librispeech_dir, "3005-163389-0004.flac")


def _scores(audio: Audio) -> dict[str, float]:
    return {name: get_metric(name).score_signal(audio).value for name in DNSMOS}


def test_p808_features_are_librosas(long_speech: Audio) -> None:
    import librosa

    segment = mm.dnsmos_segments(long_speech.samples[0])[1][:-160]
    mel = librosa.feature.melspectrogram(y=segment, sr=16000, n_fft=321, hop_length=160, n_mels=120)
    expected = ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T
    assert np.array_equal(mm.p808_features(segment), expected)


@pytest.mark.parametrize("which", ["speech", "long_speech"])
def test_dnsmos_is_speechmos_own_computation(which: str, request: pytest.FixtureRequest) -> None:
    """Equal to speechmos's DNSMOS.__call__ run on the same single-threaded sessions, and to
    speechmos.dnsmos.run (its own multi-threaded sessions) to 1e-6: onnxruntime's threads
    change the last bits of the model's sums."""
    import speechmos.dnsmos as reference

    audio: Audio = request.getfixturevalue(which)
    theirs = reference.DNSMOS.__new__(reference.DNSMOS)
    theirs.onnx_sess = mm.session("dnsmos_models/sig_bak_ovr.onnx")
    theirs.p808_onnx_sess = mm.session("dnsmos_models/model_v8.onnx")
    want = theirs(audio.samples[0], 16000, False)
    got = _scores(audio)
    assert got["dnsmos_sig"] == want["sig_mos"]
    assert got["dnsmos_bak"] == want["bak_mos"]
    assert got["dnsmos_ovrl"] == want["ovrl_mos"]
    assert got["dnsmos_p808"] == float(want["p808_mos"])
    default = reference.run(audio.samples[0], 16000)
    for name, key in zip(DNSMOS, ("sig_mos", "bak_mos", "ovrl_mos", "p808_mos"), strict=True):
        assert got[name] == pytest.approx(float(default[key]), abs=1e-6)


def test_plcmos_is_speechmos_with_the_fixed_seed(speech: Audio) -> None:
    import speechmos.plcmos as reference

    np.random.seed(mm.PLCMOS_SEED)
    want = reference.run(speech.samples[0], 16000)["plcmos"]
    got = get_metric("plcmos").score_signal(speech)
    assert got.value == pytest.approx(want, abs=1e-6)
    # Deterministic: the global random state plays no part.
    np.random.seed(123)
    assert get_metric("plcmos").score_signal(speech).value == got.value


def test_values_are_plausible_and_clean_beats_a_low_bitrate_codec(long_speech: Audio) -> None:
    clean = _scores(long_speech)
    for name, value in clean.items():
        assert 1.0 <= value <= 5.0, name
    assert clean["dnsmos_ovrl"] > 3.0 and clean["dnsmos_sig"] > 3.3 and clean["dnsmos_bak"] > 3.8
    _, decoded = get_codec("opus").roundtrip(long_speech, 6)
    degraded = _scores(decoded)
    for name in ("dnsmos_sig", "dnsmos_ovrl", "dnsmos_p808"):
        assert clean[name] > degraded[name] + 0.2, (name, clean[name], degraded[name])
    plc = get_metric("plcmos")
    assert plc.score_signal(long_speech).value > plc.score_signal(decoded).value


def test_deterministic(speech: Audio) -> None:
    first = _scores(speech)
    mm._last_p835 = None  # recompute, not the kept scores
    assert _scores(speech) == first


def test_sessions_are_single_threaded() -> None:
    for model in ("dnsmos_models/sig_bak_ovr.onnx", "plcmos_models/plcmos_v2.onnx"):
        options = mm.session(model).get_session_options()
        assert options.intra_op_num_threads == 1
        assert options.inter_op_num_threads == 1


def test_too_short_and_silent(speech: Audio) -> None:
    short = speech.segment(0, 8000)  # 0.5 s
    silent = Audio(np.zeros(32000, dtype=np.float32), 16000)
    for name in (*DNSMOS, "plcmos"):
        metric = get_metric(name)
        assert metric.score_signal(short).reason == "too_short"
        assert metric.score_signal(silent).reason == "silent"


def test_stereo_and_other_rates_score_the_16_khz_mono_mix(speech: Audio) -> None:
    left, right = speech.samples[0], 0.5 * speech.samples[0][::-1]
    stereo = Audio(np.stack([left, right]), 16000)
    mono = stereo.mono()
    assert _scores(stereo) == _scores(mono)
    upsampled = mono.resample(44100)
    assert _scores(upsampled) == _scores(upsampled.resample(16000))


def test_overshoot_is_clipped_not_refused(speech: Audio) -> None:
    loud = Audio(np.clip(speech.samples * 8, -1.5, 1.5), 16000)
    assert all(1 <= v <= 5 for v in _scores(loud).values())
    assert _scores(loud) == _scores(Audio(np.clip(loud.samples, -1, 1), 16000))


def test_the_pipeline_scores_the_degraded_signal_alone(speech: Audio) -> None:
    """Through prepare_reference/score_degraded, next to intrusive metrics: the reference does
    not change the value, and a silent reference still lets the degraded signal be scored."""
    metrics = [get_metric(n) for n in ("snr", "pesq_wb", *DNSMOS)]
    _, decoded = get_codec("opus").roundtrip(speech, 12)
    alone = _scores(decoded)
    results = score_degraded(prepare_reference(metrics, speech, "speech"), decoded)
    assert {n: results[n].value for n in DNSMOS} == alone
    assert results["snr"].ok and results["pesq_wb"].ok
    silent = Audio(np.zeros_like(speech.samples), 16000)
    results = score_degraded(prepare_reference(metrics, silent, "speech"), decoded)
    assert results["snr"].reason == results["pesq_wb"].reason == "silent"
    assert {n: results[n].value for n in DNSMOS} == alone
    # A degraded signal of another length is still refused: it is not this clip's decode.
    results = score_degraded(
        prepare_reference(metrics, speech, "speech"), decoded.segment(0, 16000)
    )
    assert all(results[n].reason == "length_mismatch" for n in DNSMOS)


def test_intrusive_metrics_cannot_score_a_lone_signal(speech: Audio) -> None:
    with pytest.raises(TypeError, match="needs a reference"):
        get_metric("snr").score_signal(speech)


def test_default_sets() -> None:
    speech_set = {m.name for m in resolve_metrics(None, "speech")}
    audio_set = {m.name for m in resolve_metrics(None, "audio")}
    # DNSMOS costs twice every default speech metric together: computed only when named.
    assert not (set(DNSMOS) | {"plcmos"}) & (speech_set | audio_set)
    named = [m.name for m in resolve_metrics("default,dnsmos_ovrl,plcmos", "speech")]
    assert named[-2:] == ["dnsmos_ovrl", "plcmos"] and "pesq_wb" in named
    assert get_metric("dnsmos_ovrl").describe()["reference_free"] is True
    assert get_metric("pesq_wb").describe()["reference_free"] is False


def test_report_labels_say_no_reference() -> None:
    assert MetricInfo("dnsmos_ovrl", True, "MOS", "speech", True).label() == (
        "dnsmos_ovrl (MOS, no reference)"
    )
    assert MetricInfo("snr", True, "dB").label() == "snr (dB)"
    assert MetricInfo("x", True, "", "both", True).label() == "x (no reference)"


def test_score_command_gives_the_references_own_value(speech: Audio, tmp_path: Path) -> None:
    """``python -m bench score``: DEG's DNSMOS, and REF's own as the baseline beside it."""
    from bench.audio import save_audio
    from bench.commands.score import score_files

    _, decoded = get_codec("opus").roundtrip(speech, 6)
    ref, deg = tmp_path / "ref.wav", tmp_path / "deg.wav"
    save_audio(ref, speech)
    save_audio(deg, decoded)
    out = score_files(str(ref), str(deg), "snr,dnsmos_ovrl", None)
    meta = out["_meta"]["metrics"]
    assert meta["dnsmos_ovrl"]["reference_free"] and not meta["snr"]["reference_free"]
    assert "reference_value" not in meta["snr"]
    original = get_metric("dnsmos_ovrl").score_signal(load_audio(ref)).value
    assert meta["dnsmos_ovrl"]["reference_value"] == original
    assert out["dnsmos_ovrl"] == get_metric("dnsmos_ovrl").score_signal(load_audio(deg)).value
    assert original > out["dnsmos_ovrl"]
