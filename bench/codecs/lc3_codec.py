"""LC3, the Bluetooth LE Audio codec (liblc3 through the ``lc3py`` wheel).

Two codecs, one per frame duration LE Audio uses: ``lc3`` (10 ms frames) and ``lc3-7.5ms``
(7.5 ms frames). LC3 is constant-rate: every frame of a stream has the same number of bytes
(20-400 per channel), so the bitrate is ``8 * bytes / frame duration`` (16-320 kbps at 10 ms,
21.3-426.7 kbps at 7.5 ms) and the ladders are the Basic Audio Profile's codec configurations
(Bluetooth SIG BAP 1.0, table 3.5: 8_1/8_2 ... 48_6), which pair each bitrate with a sample
rate. The adapter codes at that rate, never above the input's (a 16-kHz utterance asked for
80 kbps is coded at 16 kHz), resampling in and out with soxr; 44.1 kHz input is coded at 48 kHz
(liblc3 runs at 8, 16, 24, 32 and 48 kHz). Stereo is two LC3 streams, one per channel, each
with half the asked bitrate (the bitrate is always the whole stream's).

Delay: liblc3's decoder output lags its input by the algorithmic delay, 2.5 ms at 10 ms frames
and 4 ms at 7.5 ms (``lc3_delay_samples``: 40 and 64 samples at 16 kHz). The encoder is fed
that many zeros at the end and the decoder drops that many samples at the start;
``tests/codecs/test_lc3.py`` measures the lag of the uncompensated output on real clips (it is
the library's figure) and the roundtrip tests check lag 0 after removal.

Bytes: the LC3 frames are the payload (what an LE Audio isochronous channel carries). They are
wrapped in a 35-byte envelope (magic, version, frame duration, coding rate, channels, bytes per
frame, input rate and length, frame count, CRC-32 of the frames), counted as container bytes.
liblc3 silently conceals a frame it cannot parse, so the CRC is what turns a corrupt bitstream
into a :class:`~bench.errors.BitstreamError` instead of a concealed, plausible-sounding score.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np

from bench.audio import Audio
from bench.codecs import register_codec
from bench.codecs.base import Bitrates, Codec, Encoded, choose_rate
from bench.errors import AudioError, BitstreamError, CodecError, UnsupportedBitrate

#: Rates liblc3 codes at (outside its high-resolution mode).
LC3_RATES = (8000, 16000, 24000, 32000, 48000)

# magic, version, frame us, coding rate, channels, bytes per frame (all channels), input rate,
# input frames, frame count, CRC-32 of the frames
_HEADER = struct.Struct(">4sHHIBHIQII")
_MAGIC, _VERSION = b"LC3E", 1
#: Bumped whenever the adapter's output changes (results are cached by it).
ADAPTER_VERSION = 1

#: BAP 1.0 codec configurations per frame duration: (kbps, sample rate, bytes per frame).
BAP_CONFIGS: dict[int, tuple[tuple[float, int, int], ...]] = {
    10000: (
        (24.0, 8000, 30),  # 8_2
        (32.0, 16000, 40),  # 16_2
        (48.0, 24000, 60),  # 24_2
        (64.0, 32000, 80),  # 32_2
        (80.0, 48000, 100),  # 48_2
        (96.0, 48000, 120),  # 48_4
        (124.0, 48000, 155),  # 48_6
    ),
    7500: (
        (27.734, 8000, 26),  # 8_1
        (32.0, 16000, 30),  # 16_1
        (48.0, 24000, 45),  # 24_1
        (64.0, 32000, 60),  # 32_1
        (80.0, 48000, 75),  # 48_1
        (96.0, 48000, 90),  # 48_3
        (124.8, 48000, 117),  # 48_5
    ),
}

#: Bytes per frame and channel liblc3 accepts.
MIN_FRAME_BYTES, MAX_FRAME_BYTES = 20, 400


def frame_bytes(kbps: float, frame_us: int) -> int:
    """Bytes per frame and channel for ``kbps``: the largest whole frame not above the target.

    ``kbps * frame duration / 8`` rounded down, where a thousandth of a byte short of a whole
    byte counts as it (27.734 kbps at 7.5 ms is BAP 8_1's 26 bytes), clamped to liblc3's
    20-400 bytes.
    """
    exact = kbps * 1000.0 * frame_us / 1e6 / 8.0
    return int(min(max(math.floor(exact + 1e-3), MIN_FRAME_BYTES), MAX_FRAME_BYTES))


def coding_rate(kbps: float, input_rate: int, frame_us: int) -> int:
    """The rate to code at: the BAP configuration's rate for the highest configured bitrate at
    or below ``kbps`` (8 kHz below the lowest), never above the input's own rate."""
    rate = LC3_RATES[0]
    for config_kbps, config_rate, _ in BAP_CONFIGS[frame_us]:
        if kbps + 1e-6 >= config_kbps:
            rate = config_rate
    return min(rate, choose_rate(input_rate, LC3_RATES))


class _Lc3(Codec):
    """LC3 at one frame duration; see the module docstring."""

    frame_us: int = 10000
    native_rates = LC3_RATES
    max_channels = 2
    # Constant rate: the only excess is the one or two frames that flush the codec's delay.
    rate_tolerance = 0.03
    domain = "general"
    backend = "lc3py"

    def __init__(self) -> None:
        configs = BAP_CONFIGS[self.frame_us]
        seconds = self.frame_us / 1e6
        self.bitrates = Bitrates(
            ladder=tuple(kbps for kbps, _, _ in configs),
            low=round(8 * MIN_FRAME_BYTES / seconds / 1000, 3),
            high=round(8 * MAX_FRAME_BYTES / seconds / 1000, 3),
        )

    def availability(self) -> tuple[bool, str]:
        try:
            import lc3

            lc3.Encoder(self.frame_us, 16000)
        except Exception as exc:  # a missing wheel or library: listed, never a crash
            return False, f"lc3py not usable: {type(exc).__name__}: {exc}"
        return True, ""

    def version(self) -> str:
        from bench.metrics.base import distribution_version

        return f"lc3-adapter {ADAPTER_VERSION}; lc3py=={distribution_version('lc3py')}"

    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        import lc3

        self.check_input(audio, kbps)
        assert kbps is not None  # check_input refuses None for a lossy codec
        channels = audio.channels
        # The bitrate is the stream's: each channel is its own LC3 stream with a share of it.
        share = kbps / channels
        if share < self.bitrates.low - 1e-9:
            raise UnsupportedBitrate(
                f"{self.name}: {kbps:g} kbps over {channels} channels is below LC3's "
                f"{self.bitrates.low:g} kbps per channel"
            )
        rate = coding_rate(share, audio.rate, self.frame_us)
        per_channel = frame_bytes(share, self.frame_us)
        block = per_channel * channels
        try:
            encoder = lc3.Encoder(self.frame_us, rate, num_channels=channels)
        except lc3.BaseError as exc:
            raise CodecError(f"{self.name}: {exc}") from None
        step, delay = encoder.get_frame_samples(), encoder.get_delay_samples()
        # liblc3 reads floats in [-1, 1]; a resampler overshoot beyond that is clipped here,
        # as any PCM interface would.
        pcm = np.clip(audio.resample(rate).samples, -1.0, 1.0)
        count = max(1, math.ceil((pcm.shape[1] + delay) / step))
        padded = np.zeros((channels, count * step), dtype=np.float32)
        padded[:, : pcm.shape[1]] = pcm
        interleaved = np.ascontiguousarray(padded.T).reshape(count, step * channels)
        try:
            frames = b"".join(encoder.encode(row.tobytes(), block) for row in interleaved)
        except lc3.BaseError as exc:
            raise CodecError(f"{self.name}: {exc}") from None
        header = _HEADER.pack(
            _MAGIC,
            _VERSION,
            self.frame_us,
            rate,
            channels,
            block,
            audio.rate,
            audio.frames,
            count,
            zlib.crc32(frames),
        )
        data = header + frames
        return Encoded(
            data,
            payload_bytes=len(frames),
            duration_s=audio.duration,
            target_kbps=kbps,
            container_bytes=len(data),
            params={
                "native_rate": rate,
                "frame_ms": self.frame_us / 1000,
                "frame_bytes": per_channel,
                "delay_samples": delay,
            },
        )

    def decode(self, data: bytes) -> Audio:
        import lc3

        if len(data) < _HEADER.size or data[:4] != _MAGIC:
            raise BitstreamError(f"{self.name}: not an LC3 envelope (bad magic or truncated)")
        (_, version, frame_us, rate, channels, block, in_rate, in_frames, count, crc) = (
            _HEADER.unpack_from(data)
        )
        if version != _VERSION:
            raise BitstreamError(f"{self.name}: unsupported envelope version {version}")
        if frame_us != self.frame_us or rate not in LC3_RATES or not 1 <= channels <= 2:
            raise BitstreamError(
                f"{self.name}: header says {frame_us} us frames, {rate} Hz, {channels} channel(s)"
            )
        if not MIN_FRAME_BYTES * channels <= block <= MAX_FRAME_BYTES * channels:
            raise BitstreamError(f"{self.name}: {block} bytes per frame is outside LC3's range")
        frames = memoryview(data)[_HEADER.size :]
        # Every size comes from the header; check them against the bytes before allocating.
        if len(frames) != count * block or count < 1:
            raise BitstreamError(
                f"{self.name}: header declares {count} frames of {block} bytes, "
                f"{len(frames)} bytes follow"
            )
        if zlib.crc32(frames) != crc:
            raise BitstreamError(f"{self.name}: CRC mismatch (the frames are corrupt)")
        if not 1000 <= in_rate <= 768_000 or in_frames < 1:
            raise BitstreamError(f"{self.name}: bad input rate or length in the header")
        decoder = lc3.Decoder(frame_us, rate, num_channels=channels)
        step, delay = decoder.get_frame_samples(), decoder.get_delay_samples()
        native_frames = round(in_frames * rate / in_rate)
        if count != max(1, math.ceil((native_frames + delay) / step)):
            raise BitstreamError(f"{self.name}: frame count does not match the input length")
        out = np.empty((count, step * channels), dtype=np.float32)
        for i in range(count):
            pcm = decoder.decode(frames[i * block : (i + 1) * block])
            out[i] = np.frombuffer(pcm, dtype=np.float32)
        samples = out.reshape(count * step, channels).T[:, delay : delay + native_frames]
        try:
            return (
                Audio(np.ascontiguousarray(samples), rate).resample(in_rate).with_frames(in_frames)
            )
        except AudioError as exc:  # e.g. a one-sample input: not bytes this adapter wrote
            raise BitstreamError(f"{self.name}: {exc}") from None


@register_codec
class Lc3(_Lc3):
    """LC3 with 10 ms frames (the LE Audio default)."""

    name = "lc3"
    description = "LC3, Bluetooth LE Audio (liblc3 via lc3py), 10 ms frames, BAP configurations"
    frame_us = 10000


@register_codec
class Lc3Short(_Lc3):
    """LC3 with 7.5 ms frames (the low-latency LE Audio configurations)."""

    name = "lc3-7.5ms"
    # The same bitrates as ``lc3`` at lower latency: named explicitly, not part of ``all``.
    primary = False
    description = "LC3, Bluetooth LE Audio (liblc3 via lc3py), 7.5 ms frames, BAP configurations"
    frame_us = 7500
