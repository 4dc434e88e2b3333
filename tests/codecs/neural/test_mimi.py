"""Mimi through the codec, on a tiny random checkpoint loaded from disk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.align import estimate_lag
from bench.audio import Audio
from bench.codecs import get_codec
from bench.codecs.neural import base
from bench.errors import BitstreamError
from tests.codecs.neural.conftest import noise, reencode


def test_ladder_is_codebooks_at_11_bits_and_12_5_hz():
    codec = get_codec("mimi")
    assert codec.points == {0.275: 2, 0.55: 4, 1.1: 8, 2.2: 16, 4.4: 32}
    assert codec.ladder() == [0.275, 0.55, 1.1, 2.2, 4.4]


@pytest.mark.parametrize("kbps, codebooks", [(0.275, 2), (1.1, 8), (4.4, 32)])
def test_mimi_bytes_are_the_codes(peers, kbps, codebooks):
    codec = get_codec("mimi")
    audio = noise(24000, 2.0)
    encoded, decoded = codec.roundtrip(audio, kbps)
    frames = math.ceil(audio.frames / 1920)
    code_bytes = math.ceil(codebooks * frames * 11 / 8)
    assert encoded.params["code_frames"] == frames and encoded.params["code_bytes"] == code_bytes
    assert encoded.payload_bytes == len(encoded.data) == 27 + 5 + code_bytes + 4
    assert encoded.actual_kbps == pytest.approx(8 * len(encoded.data) / 2.0 / 1000)
    assert 8 * code_bytes / audio.duration / 1000 == pytest.approx(kbps, rel=0.01)
    assert (decoded.rate, decoded.frames, decoded.channels) == (24000, audio.frames, 1)


def test_mimi_adds_no_lag_and_decodes_from_bytes_alone(peers):
    import torch

    codec = get_codec("mimi")
    audio = noise(24000, 1920 * 5 / 24000, seed=4)  # whole frames: no padding in either path
    encoded, decoded = codec.roundtrip(audio, 1.1)
    model, _ = codec.model()
    with torch.inference_mode():
        codes = model.encode(torch.from_numpy(np.array(audio.samples[None])), num_quantizers=8)
        direct = model.decode(codes.audio_codes).audio_values[0].numpy()
    reference = Audio(direct[:, : audio.frames], 24000)
    assert estimate_lag(reference, decoded) == 0
    np.testing.assert_allclose(decoded.samples, reference.samples, atol=1e-5)
    base._models.clear()
    np.testing.assert_array_equal(codec.decode(bytes(encoded.data)).samples, decoded.samples)


def test_mimi_resamples_and_codes_stereo_per_channel(peers):
    codec = get_codec("mimi")
    audio = noise(44100, 0.9, channels=2)
    encoded, decoded = codec.roundtrip(audio, 0.55)
    assert encoded.params["code_groups"] == 2
    assert (decoded.rate, decoded.frames, decoded.channels) == (44100, audio.frames, 2)


def test_mimi_rc_and_corruption(peers):
    audio = noise(16000, 1.0, seed=7)
    packed, a = get_codec("mimi").roundtrip(audio, 2.2)
    ranged, b = get_codec("mimi-rc").roundtrip(audio, 2.2)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert len(ranged.data) <= len(packed.data) + 4
    for data in (packed.data, ranged.data):
        with pytest.raises(BitstreamError):
            get_codec("mimi").decode(data[:-2])
    with pytest.raises(BitstreamError, match="code groups"):
        get_codec("mimi").decode(
            reencode(packed.data, lambda body: body.__setitem__(slice(28, 32), b"\x00\x01\x00\x00"))
        )
