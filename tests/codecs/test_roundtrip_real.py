"""Every codec at every ladder bitrate on real clips: length, rate, lag and measured bitrate.

Clips: two ESC-50 clips at 44.1 kHz (a sparse dog bark and dense rain) and two LibriSpeech
utterances at 16 kHz. The alignment check is the point of the suite: after the adapter removes
the codec's delay, the best cross-correlation lag must be 0 (within the codec's declared
tolerance: +-1 for CELP decoders that are not sample-exact).

Speech codecs (AMR-NB, Speex, GSM, G.722, codec2) are checked on speech: a CELP coder does not
reproduce noise-like sound (rain) as a waveform, so there the correlation peak means nothing.
Codec2 is a parametric vocoder whose waveform does not follow even speech; it is aligned on the
speech envelope instead, within its declared tolerance.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from bench.align import estimate_envelope_lag, estimate_lag
from bench.audio import Audio, load_audio
from bench.codecs import all_codecs
from tests.conftest import TEST_DATA

ESC_FILES = ("1-100032-A-0.wav", "3-132852-A-10.wav")
SPEECH_FILES = (
    "test-clean/1089/134686/1089-134686-0000.flac",
    "dev-clean/2412/153948/2412-153948-0000.flac",
)


@cache
def clip(kind: str, index: int) -> Audio:
    if kind == "esc":
        path = TEST_DATA / "esc50-mini" / "audio" / ESC_FILES[index]
    else:
        path = TEST_DATA / "librispeech-mini" / "LibriSpeech" / SPEECH_FILES[index]
    if not Path(path).exists():
        pytest.fail(f"test data missing: {path}", pytrace=False)
    return load_audio(path)


def real_codecs() -> dict:
    """Every codec but the neural peers: their published weights are never on a test machine
    (they are tested on tiny saved checkpoints in tests/codecs/neural/)."""
    return {n: c for n, c in all_codecs().items() if not hasattr(c, "locate_weights")}


def cases() -> list:
    out = []
    for name, codec in real_codecs().items():
        for kbps in codec.ladder():
            for kind in ("esc", "speech"):
                for index in (0, 1):
                    out.append(
                        pytest.param(name, kbps, kind, index, id=f"{name}-{kbps}-{kind}{index}")
                    )
    return out


@cache
def roundtrip(name: str, kbps: float | None, kind: str, index: int):
    codec = all_codecs()[name]
    ok, reason = codec.availability()
    if not ok:
        pytest.fail(f"{name} unavailable: {reason}", pytrace=False)
    return codec.roundtrip(clip(kind, index), kbps)


@pytest.mark.parametrize(("name", "kbps", "kind", "index"), cases())
def test_roundtrip_aligned_and_measured(
    name: str, kbps: float | None, kind: str, index: int
) -> None:
    codec = all_codecs()[name]
    audio = clip(kind, index)
    encoded, decoded = roundtrip(name, kbps, kind, index)

    # Same rate, length and channels as the input (roundtrip() checks it too; be explicit).
    assert decoded.rate == audio.rate
    assert decoded.frames == audio.frames
    assert decoded.channels == audio.channels

    # The measured bitrate is computed from the payload bytes and nothing else.
    assert encoded.actual_kbps == pytest.approx(8 * encoded.payload_bytes / audio.duration / 1000)
    assert 0 < encoded.payload_bytes <= len(encoded.data)
    assert encoded.target_kbps == kbps

    # Constant-rate codecs land within their stated tolerance of the target.
    if codec.rate_tolerance is not None:
        assert encoded.actual_kbps == pytest.approx(kbps, rel=codec.rate_tolerance)

    if codec.domain == "speech" and kind != "speech":
        return
    if codec.waveform:
        lag = estimate_lag(audio, decoded)
        assert abs(lag) <= codec.lag_tolerance, f"{name} at {kbps} kbps lags by {lag} samples"
    else:
        lag = estimate_envelope_lag(audio, decoded)
        tolerance = codec.envelope_lag_tolerance_s * audio.rate
        assert abs(lag) <= tolerance, f"{name} at {kbps} kbps: envelope lag {lag}"


@pytest.mark.parametrize("kind", ["esc", "speech"])
@pytest.mark.parametrize("index", [0, 1])
def test_flac_is_bit_exact_on_16_bit_sources(kind: str, index: int) -> None:
    audio = clip(kind, index)
    encoded, decoded = roundtrip("flac", None, kind, index)
    assert np.array_equal(decoded.samples, audio.samples)
    assert encoded.params["bits"] == 16
    # Lossless coding of real audio is smaller than 16-bit PCM.
    assert encoded.payload_bytes < 2 * audio.frames


def test_flac_codes_non_16_bit_input_at_24_bits() -> None:
    rng = np.random.default_rng(1)
    audio = Audio(rng.uniform(-0.5, 0.5, 8000).astype(np.float32), 16000)
    encoded, decoded = all_codecs()["flac"].roundtrip(audio, None)
    assert encoded.params["bits"] == 24
    assert np.max(np.abs(decoded.samples - audio.samples)) <= 2.0**-23


@pytest.mark.parametrize("name", ["opus", "aac", "vorbis"])
def test_variable_rate_codecs_track_the_target_on_dense_content(name: str) -> None:
    """VBR/ABR codecs spend less on sparse content, so tracking is checked on speech and rain.

    Bounds (measured on these clips, see the adapter's docstring): Opus constrained VBR stays
    within 0.7-1.15 of the target across 6-64 kbps; FFmpeg's AAC within 0.85-1.25 up to
    64 kbps (at 16 kHz it cannot spend more than ~74 kbps); libvorbis ABR within 0.6-1.2.
    """
    bounds = {"opus": (0.70, 1.15), "aac": (0.85, 1.25), "vorbis": (0.60, 1.20)}[name]
    codec = all_codecs()[name]
    for kbps in codec.ladder():
        if name == "aac" and kbps > 64:
            continue
        for kind, index in (("speech", 0), ("speech", 1), ("esc", 1)):
            encoded, _ = roundtrip(name, kbps, kind, index)
            ratio = encoded.actual_kbps / kbps
            assert bounds[0] <= ratio <= bounds[1], (
                f"{name} {kbps} kbps on {kind}{index}: {ratio:.2f}"
            )


def test_speex_never_exceeds_its_target() -> None:
    """Speex is CBR at the highest mode at or below the target."""
    codec = all_codecs()["speex"]
    for kbps in codec.ladder():
        encoded, _ = roundtrip("speex", kbps, "speech", 0)
        assert encoded.actual_kbps <= kbps * 1.05


def test_quality_rises_with_bitrate_for_waveform_codecs() -> None:
    """A sanity check that the bytes matter: SNR on speech improves from the lowest to the
    highest ladder point of each waveform codec with more than one point."""
    audio = clip("speech", 0)
    for name, codec in real_codecs().items():
        ladder = [k for k in codec.ladder() if k is not None]
        if len(ladder) < 2 or not codec.waveform or codec.domain == "speech":
            continue

        def snr(name: str, kbps: float) -> float:
            _, decoded = roundtrip(name, kbps, "speech", 0)
            err = np.sum((audio.samples - decoded.samples) ** 2)
            return 10 * math.log10(np.sum(audio.samples**2) / err)

        assert snr(name, ladder[-1]) > snr(name, ladder[0]) + 3, name
