"""The FFmpeg codecs' byte envelope: validation and fuzzing (no crash, no hang, clear error)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.audio import Audio
from bench.codecs import get_codec
from bench.codecs.ffmpeg_common import ENVELOPE_MAGIC, Envelope
from bench.errors import BitstreamError, CodecError


@pytest.fixture(scope="module")
def encoded_mp3() -> bytes:
    t = np.arange(16000) / 16000
    audio = Audio(0.3 * np.sin(2 * np.pi * 440 * t), 16000)
    return get_codec("mp3").encode(audio, 32).data


def test_envelope_round_trip() -> None:
    env = Envelope("opus", 2, 44100, 12345, 48000, 13437, 312, b"container")
    assert Envelope.unpack(env.pack(), "opus") == env


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:3], "truncated header"),
        (lambda d: b"XXXX" + d[4:], "bad magic"),
        (lambda d: d[:4] + bytes([99]) + d[5:], "version 99"),
        (lambda d: d[:20], "truncated"),
    ],
)
def test_malformed_envelopes_are_refused(encoded_mp3: bytes, mutate, message: str) -> None:
    with pytest.raises(BitstreamError, match=message):
        get_codec("mp3").decode(mutate(encoded_mp3))


def test_inconsistent_lengths_are_refused() -> None:
    env = Envelope("opus", 1, 44100, 10**9, 48000, 13437, 312, b"container")
    with pytest.raises(BitstreamError, match="disagree"):
        Envelope.unpack(env.pack(), "opus")


def test_bytes_of_another_codec_are_refused(encoded_mp3: bytes) -> None:
    with pytest.raises(BitstreamError, match="encoded by 'mp3', not 'aac'"):
        get_codec("aac").decode(encoded_mp3)


def test_corrupt_container_is_a_clear_error(encoded_mp3: bytes) -> None:
    header = len(encoded_mp3) - len(Envelope.unpack(encoded_mp3, "mp3").container)
    garbage = encoded_mp3[:header] + bytes(200)
    with pytest.raises(CodecError):
        get_codec("mp3").decode(garbage)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    with contextlib.suppress(BitstreamError):
        Envelope.unpack(ENVELOPE_MAGIC + data, "mp3")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_bitstreams_decode_or_fail_cleanly(encoded_mp3: bytes, data: st.DataObject) -> None:
    blob = bytearray(encoded_mp3)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    try:
        out = get_codec("mp3").decode(bytes(blob[:cut]))
    except CodecError:
        return
    assert out.frames >= 1 and np.isfinite(out.samples).all()
