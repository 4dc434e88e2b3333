"""LC3 (bench/codecs/lc3_codec.py): the delay measured on real clips, frame sizes and bitrates,
stereo, and corrupt bitstreams.

The ladder roundtrips (length, rate, lag 0 after delay removal, measured rate) are in
``test_roundtrip_real.py``, which runs every registered codec.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.align import estimate_lag
from bench.audio import Audio
from bench.codecs import get_codec
from bench.codecs.lc3_codec import BAP_CONFIGS, coding_rate, frame_bytes
from bench.errors import BitstreamError, CodecError
from tests.codecs.test_roundtrip_real import clip


@pytest.mark.parametrize("frame_us", [10000, 7500])
@pytest.mark.parametrize(("kind", "rate"), [("speech", 16000), ("esc", 48000), ("speech", 8000)])
def test_uncompensated_delay_is_measured_as_the_libraries_figure(
    frame_us: int, kind: str, rate: int
) -> None:
    """liblc3 straight, no delay removed: the decoded signal lags the input by 2.5 ms (10 ms
    frames) or 4 ms (7.5 ms frames), measured by cross-correlation on real clips."""
    import lc3

    audio = clip(kind, 0).resample(rate)
    encoder = lc3.Encoder(frame_us, rate)
    decoder = lc3.Decoder(frame_us, rate)
    step = encoder.get_frame_samples()
    count = math.ceil(audio.frames / step)
    pcm = np.zeros(count * step, dtype=np.float32)
    pcm[: audio.frames] = np.clip(audio.samples[0], -1, 1)
    nbytes = frame_bytes(96, frame_us)
    out = np.concatenate(
        [
            np.frombuffer(
                decoder.decode(encoder.encode(pcm[i * step : (i + 1) * step].tobytes(), nbytes)),
                dtype=np.float32,
            )
            for i in range(count)
        ]
    )[: audio.frames]
    lag = estimate_lag(audio, Audio(out, rate))
    expected_ms = {10000: 2.5, 7500: 4.0}[frame_us]
    assert lag == round(expected_ms * rate / 1000) == encoder.get_delay_samples()


@pytest.mark.parametrize("frame_us", [10000, 7500])
def test_bap_configurations_are_whole_frames_at_their_bitrate(frame_us: int) -> None:
    for kbps, rate, nbytes in BAP_CONFIGS[frame_us]:
        assert frame_bytes(kbps, frame_us) == nbytes
        assert 8 * nbytes / (frame_us / 1e6) / 1000 == pytest.approx(kbps, abs=1e-3)
        assert coding_rate(kbps, 48000, frame_us) == rate
        assert coding_rate(kbps, 16000, frame_us) == min(rate, 16000)
    assert coding_rate(kbps, 44100, frame_us) == 48000  # liblc3 has no 44.1 kHz


@pytest.mark.parametrize("name", ["lc3", "lc3-7.5ms"])
def test_measured_rate_is_the_frames_bytes(name: str) -> None:
    codec = get_codec(name)
    audio = clip("speech", 1)
    frame_s = codec.frame_us / 1e6
    for kbps in codec.ladder():
        encoded = codec.encode(audio, kbps)
        per_frame = encoded.params["frame_bytes"]
        frames = encoded.payload_bytes // per_frame
        assert encoded.payload_bytes == frames * per_frame
        # every frame of the input plus the ones that flush the delay, and nothing else
        native = round(audio.duration * encoded.params["native_rate"])
        step = round(frame_s * encoded.params["native_rate"])
        assert frames == math.ceil((native + encoded.params["delay_samples"]) / step)
        assert encoded.actual_kbps == pytest.approx(
            8 * encoded.payload_bytes / audio.duration / 1e3
        )
        assert encoded.container_bytes == len(encoded.data) == encoded.payload_bytes + 35


def test_off_ladder_bitrates_and_refusals() -> None:
    codec = get_codec("lc3")
    audio = clip("speech", 0).with_frames(16000)
    assert codec.encode(audio, 200).params["frame_bytes"] == 250
    for bad in (15.9, 321, None):
        with pytest.raises(CodecError):
            codec.encode(audio, bad)


def test_stereo_codes_each_channel_at_half_the_bytes() -> None:
    speech = clip("speech", 0)
    left = speech.samples[0, :48000]
    right = clip("speech", 1).samples[0, :48000]
    audio = Audio(np.stack([left, right]), 16000)
    encoded, decoded = get_codec("lc3").roundtrip(audio, 64)
    assert decoded.channels == 2
    assert (
        encoded.payload_bytes == 2 * get_codec("lc3").encode(Audio(left, 16000), 32).payload_bytes
    )
    for ch in range(2):
        ref, deg = Audio(audio.samples[ch], 16000), Audio(decoded.samples[ch], 16000)
        assert estimate_lag(ref, deg) == 0
        snr = 10 * np.log10(np.sum(ref.samples**2) / np.sum((ref.samples - deg.samples) ** 2))
        assert snr > 10, ch


@pytest.fixture(scope="module")
def encoded() -> bytes:
    return get_codec("lc3").encode(clip("speech", 0).with_frames(32000), 48).data


def test_decode_is_deterministic(encoded: bytes) -> None:
    codec = get_codec("lc3")
    assert np.array_equal(codec.decode(encoded).samples, codec.decode(encoded).samples)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:10], "truncated"),
        (lambda d: b"XXXX" + d[4:], "bad magic"),
        (lambda d: d[:4] + b"\x00\x09" + d[6:], "version 9"),
        (lambda d: d[:-1], "bytes follow"),
        (lambda d: d + b"\x00" * 60, "bytes follow"),
        (lambda d: d[:100] + bytes([d[100] ^ 0x10]) + d[101:], "CRC"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "CRC"),
    ],
)
def test_corrupt_bitstreams_raise(encoded: bytes, mutate, message: str) -> None:
    with pytest.raises(BitstreamError, match=message):
        get_codec("lc3").decode(mutate(encoded))


def test_every_header_bit_flip_is_refused_or_decodes_to_the_declared_shape(encoded: bytes) -> None:
    codec = get_codec("lc3")
    for byte in range(35):
        for bit in range(8):
            data = bytearray(encoded)
            data[byte] ^= 1 << bit
            try:
                out = codec.decode(bytes(data))
            except BitstreamError:
                continue
            assert out.frames >= 1 and out.channels in (1, 2)  # e.g. another input rate


def test_the_other_frame_size_is_refused(encoded: bytes) -> None:
    with pytest.raises(BitstreamError, match="frames"):
        get_codec("lc3-7.5ms").decode(encoded)
