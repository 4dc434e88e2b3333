"""What the two FFmpeg backends share: codec specs, the byte envelope, rate choice, PCM packing.

An FFmpeg codec is described once by a :class:`FFmpegSpec` (encoder, container, native rates,
bitrates, delay) and run by either backend: in process through PyAV
(:mod:`bench.codecs.pyav_codecs`) or through the ``ffmpeg`` binary
(:mod:`bench.codecs.cli_codecs`).

The bytes an FFmpeg codec returns are a small envelope around a standard container file::

    magic "NBEN" | version u8 | channels u8 | name length u8 | name (ASCII)
    | input rate u32 | input frames u64 | native rate u32 | native frames u64 | delay u32
    | container file (the rest)

The envelope carries what a real container's edit list would (the input's rate and length, the
priming samples to drop), so ``decode`` needs nothing but the bytes. It counts as container
bytes, never as payload: the payload is the sum of the encoder's packet sizes.
"""

from __future__ import annotations

import struct
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.audio import Audio
from bench.codecs.base import Bitrates, Codec, Encoded, choose_rate
from bench.errors import (
    AudioError,
    BitstreamError,
    CodecError,
    CodecUnavailable,
    UnsupportedBitrate,
)

ENVELOPE_MAGIC = b"NBEN"
ENVELOPE_VERSION = 1
_HEAD = struct.Struct(">4sBBB")
_BODY = struct.Struct(">IQIQI")
#: Longest input the envelope will claim to hold: 24 hours at 384 kHz.
_MAX_FRAMES = 24 * 3600 * 384_000


@dataclass(frozen=True)
class Envelope:
    """Decoded envelope header plus the container bytes it wraps."""

    codec: str
    channels: int
    input_rate: int
    input_frames: int
    native_rate: int
    native_frames: int
    delay: int
    container: bytes

    def pack(self) -> bytes:
        """Serialise to bytes (see the module docstring for the layout)."""
        name = self.codec.encode("ascii")
        if len(name) > 255:
            raise CodecError(f"codec name too long for the envelope: {self.codec!r}")
        head = _HEAD.pack(ENVELOPE_MAGIC, ENVELOPE_VERSION, self.channels, len(name))
        body = _BODY.pack(
            self.input_rate, self.input_frames, self.native_rate, self.native_frames, self.delay
        )
        return head + name + body + self.container

    @classmethod
    def unpack(cls, data: bytes, expected_codec: str) -> Envelope:
        """Parse and validate; every inconsistency is a :class:`BitstreamError`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise BitstreamError(f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) < _HEAD.size:
            raise BitstreamError(f"{expected_codec}: truncated header ({len(data)} bytes)")
        magic, version, channels, name_len = _HEAD.unpack_from(data)
        if magic != ENVELOPE_MAGIC:
            raise BitstreamError(f"{expected_codec}: not a namc-bench FFmpeg bitstream (bad magic)")
        if version != ENVELOPE_VERSION:
            raise BitstreamError(
                f"{expected_codec}: envelope version {version} is not supported "
                f"(this build reads version {ENVELOPE_VERSION})"
            )
        offset = _HEAD.size
        if len(data) < offset + name_len + _BODY.size:
            raise BitstreamError(f"{expected_codec}: truncated header")
        try:
            codec = data[offset : offset + name_len].decode("ascii")
        except UnicodeDecodeError:
            raise BitstreamError(f"{expected_codec}: corrupt codec name in header") from None
        if codec != expected_codec:
            raise BitstreamError(f"bytes were encoded by {codec!r}, not {expected_codec!r}")
        offset += name_len
        in_rate, in_frames, nat_rate, nat_frames, delay = _BODY.unpack_from(data, offset)
        offset += _BODY.size
        if not (1 <= channels <= 8):
            raise BitstreamError(f"{codec}: implausible channel count {channels}")
        for label, value in (("input rate", in_rate), ("native rate", nat_rate)):
            if not (1000 <= value <= 768_000):
                raise BitstreamError(f"{codec}: implausible {label} {value}")
        for label, value in (("input length", in_frames), ("native length", nat_frames)):
            if not (1 <= value <= _MAX_FRAMES):
                raise BitstreamError(f"{codec}: implausible {label} {value}")
        if delay > 1_000_000:
            raise BitstreamError(f"{codec}: implausible delay {delay}")
        # The two lengths describe one signal at two rates; they must agree (resampling rounds),
        # so a corrupt header cannot make the decoder pad to an absurd length.
        if abs(in_frames - nat_frames * in_rate / nat_rate) > 2 + in_rate / nat_rate:
            raise BitstreamError(f"{codec}: input and native lengths in the header disagree")
        container = data[offset:]
        if not container:
            raise BitstreamError(f"{codec}: no container data after the header")
        return cls(codec, channels, in_rate, in_frames, nat_rate, nat_frames, delay, container)


# -- codec descriptions -------------------------------------------------------------------------
@dataclass(frozen=True)
class FFmpegSpec:
    """Everything needed to run one FFmpeg encoder/decoder pair honestly."""

    name: str
    description: str
    encoder: str
    #: Muxer for writing; the demuxer reads the same format.
    container: str
    #: Encoder input sample format (FFmpeg name), e.g. ``fltp`` or ``s16``.
    sample_fmt: str
    native_rates: tuple[int, ...]
    bitrates: Bitrates
    #: Samples (at the native rate) the decoded stream carries before the signal, as left after
    #: demuxing: a number, a mapping native rate -> number, or ``(kbps, rate) -> number``.
    #: Verified by tests, not just trusted.
    delay: int | Mapping[int, int] | Callable[[float | None, int], int] = 0
    #: Demuxer name when it differs from the muxer (FFmpeg reads "mp2" files with "mp3").
    demuxer: str | None = None
    #: False for parametric vocoders: the decoded waveform does not follow the input's.
    waveform: bool = True
    #: For vocoders: how far the speech envelope may be off after delay removal, in seconds.
    envelope_lag_tolerance_s: float = 0.0
    domain: str = "general"
    rate_tolerance: float | None = None
    lag_tolerance: int = 0
    max_channels: int = 1
    encoder_options: Mapping[str, str] = field(default_factory=dict)
    muxer_options: Mapping[str, str] = field(default_factory=dict)
    #: ``(kbps, input_rate) -> native rate``; default: :func:`choose_rate` over native_rates.
    pick_rate: Callable[[float | None, int], int] | None = None
    #: ``kbps -> {option: value}`` for codecs whose rate is set by an option, not bit_rate.
    rate_options: Callable[[float], dict[str, str]] | None = None
    #: Integer sample depth for lossless coding (FLAC): 16 when the input is exactly 16-bit.
    lossless_bits: int | None = None
    #: ``(first byte of each packet, native rate) -> extra delay`` the packets signal.
    packet_delay: Callable[[list[bytes], int], int] | None = None
    #: Most extra delay ``packet_delay`` can add (at 48 kHz); the tail is padded by it.
    max_packet_delay: int = 0
    primary: bool = True

    def delay_at(self, rate: int, kbps: float | None) -> int:
        """Priming samples to drop at native ``rate`` for ``kbps``."""
        if isinstance(self.delay, int):
            return self.delay
        if callable(self.delay):
            return int(self.delay(kbps, rate))
        try:
            return int(self.delay[rate])
        except KeyError:
            raise CodecError(f"{self.name}: no known delay at {rate} Hz") from None

    @property
    def demux_format(self) -> str:
        """Format name to read the container with."""
        return self.demuxer or self.container

    def native_rate(self, kbps: float | None, input_rate: int) -> int:
        """The rate this codec encodes at for ``kbps`` and an input at ``input_rate``."""
        if self.pick_rate is not None:
            return self.pick_rate(kbps, input_rate)
        return choose_rate(input_rate, self.native_rates)


# -- MP3: LAME's own choice of sample rate for a bitrate ------------------------------------------
#: LAME's default lowpass for a CBR bitrate (lame.c, ``optimum_bandwidth``).
LAME_LOWPASS = {
    8: 2000, 16: 3700, 24: 3900, 32: 5500, 40: 7000, 48: 7500, 56: 10000, 64: 11000,
    80: 13500, 96: 15100, 112: 15600, 128: 17000, 160: 17500, 192: 18600, 224: 19400,
    256: 19700, 320: 20500,
}  # fmt: skip
MPEG1_RATES = (32000, 44100, 48000)
MPEG1_L3_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MPEG2_L3_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def lame_sample_rate(kbps: float | None, input_rate: int) -> int:
    """The output rate the ``lame`` command picks for a CBR bitrate (lame.c,
    ``optimum_samplefreq``): low bitrates are coded at low rates, as MP3 is used in practice.

    FFmpeg's libmp3lame wrapper does not resample, so the adapter does it (with soxr) to reproduce
    LAME's default behaviour. The bitrate must then be legal at that rate's MPEG version.
    """
    if kbps is None:
        raise UnsupportedBitrate("mp3 needs a bitrate")
    lowpass = LAME_LOWPASS.get(int(kbps))
    if lowpass is None:
        raise UnsupportedBitrate(f"mp3 cannot encode at {kbps:g} kbps")
    suggested = max((r for r in _MPEG_RATES if r <= input_rate), default=8000)
    for limit, rate in (
        (15960, 44100), (15250, 32000), (11220, 24000), (9970, 22050),
        (7230, 16000), (5420, 12000), (4510, 11025), (3970, 8000),
    ):  # fmt: skip
        if lowpass <= limit:
            suggested = rate
    if input_rate < suggested:
        # Like LAME: the lowest valid MPEG rate at or above the input (never upsample further).
        suggested = min((r for r in _MPEG_RATES if r >= input_rate), default=48000)
    legal = MPEG1_L3_KBPS if suggested in MPEG1_RATES else MPEG2_L3_KBPS
    if int(kbps) not in legal:
        raise UnsupportedBitrate(
            f"mp3 cannot encode {kbps:g} kbps at {suggested} Hz (input at {input_rate} Hz); "
            f"legal there: {', '.join(map(str, legal))}"
        )
    return suggested


# -- Opus: delay libopus leaves in SILK narrowband ----------------------------------------------
#: Extra decoder delay at 48 kHz of SILK-only narrowband packets (1 sample at 8 kHz).
OPUS_SILK_NB_DELAY_48K = 6


def opus_packet_delay(first_bytes: list[bytes], rate: int) -> int:
    """Extra delay when most packets are SILK-only narrowband (TOC configs 0-3, RFC 6716 3.1).

    libopus compensates its SILK resampler delay for 12 and 16 kHz internal rates but not for
    8 kHz, so narrowband output lags by one 8-kHz sample. Mixed streams follow the majority.
    """
    if not first_bytes:
        return 0
    narrowband = sum(1 for b in first_bytes if b and (b[0] >> 3) <= 3)
    if narrowband * 2 <= len(first_bytes):
        return 0
    return OPUS_SILK_NB_DELAY_48K * rate // 48000


# -- PCM packing ----------------------------------------------------------------------------------
def to_sample_format(samples: np.ndarray, sample_fmt: str, bits: int | None = None) -> np.ndarray:
    """Convert float32 ``(channels, n)`` to the array layout ``av.AudioFrame.from_ndarray``
    expects for ``sample_fmt``: planar formats stay ``(channels, n)``, packed formats become
    ``(1, n * channels)`` interleaved. Integers are rounded and clipped; ``bits`` (< the
    container width) leaves the low bits zero, as FLAC expects for 24-bit in s32."""
    planar = sample_fmt.endswith("p")
    base = sample_fmt.rstrip("p")
    if base == "flt":
        data = samples.astype(np.float32, copy=False)
    elif base in ("s16", "s32"):
        width = 16 if base == "s16" else 32
        depth = bits or width
        scale = float(2 ** (depth - 1))
        ints = np.clip(np.round(samples.astype(np.float64) * scale), -scale, scale - 1)
        data = ints.astype(np.int64) << (width - depth)
        data = data.astype(np.int16 if width == 16 else np.int32)
    else:
        raise CodecError(f"unsupported sample format {sample_fmt}")
    if planar:
        return np.ascontiguousarray(data)
    return np.ascontiguousarray(data.T.reshape(1, -1))


def is_exact_pcm16(audio: Audio) -> bool:
    """True when every sample is an exact multiple of 1/32768 within int16 range (16-bit PCM
    source), so FLAC at 16 bits reproduces it bit for bit."""
    scaled = audio.samples.astype(np.float64) * 32768.0
    in_range = scaled.min() >= -32768 and scaled.max() <= 32767
    return bool(in_range and np.all(scaled == np.round(scaled)))


def finish_decoded(decoded: Audio, env: Envelope, codec: str) -> Audio:
    """Drop the priming samples, check the length, and return audio at the input's rate/length."""
    if decoded.rate != env.native_rate:
        raise CodecError(f"{codec}: decoder gave {decoded.rate} Hz, expected {env.native_rate}")
    if decoded.channels != env.channels:
        raise CodecError(
            f"{codec}: decoder gave {decoded.channels} channel(s), expected {env.channels}"
        )
    need = env.delay + env.native_frames
    if decoded.frames < need:
        raise CodecError(
            f"{codec}: decoder returned {decoded.frames} samples, expected at least {need} "
            f"({env.delay} delay + {env.native_frames} signal)"
        )
    native = decoded.segment(env.delay, need)
    try:
        return native.resample(env.input_rate).with_frames(env.input_frames)
    except AudioError as exc:  # e.g. a 1-frame signal cannot be resampled: the bytes are bad
        raise BitstreamError(f"{codec}: {exc}") from None


# -- the codec both backends share -----------------------------------------------------------
@dataclass
class NativeEncoding:
    """What a backend returns for one encode at the native rate."""

    container: bytes
    payload_bytes: int
    header_bytes: int
    extra_delay: int = 0
    params: dict[str, Any] = field(default_factory=dict)


class FFmpegCodec(Codec):
    """A codec defined by an :class:`FFmpegSpec`; subclasses supply the backend.

    ``encode`` resamples to the native rate, pads the tail so the decoder can emit the whole
    signal after its priming, lets the backend encode and mux, and wraps the container in the
    envelope. ``decode`` unwraps, lets the backend demux and decode, drops the priming and
    returns audio at the input's rate and length.
    """

    def __init__(self, spec: FFmpegSpec) -> None:
        self.spec = spec
        # One class serves many specs, so the Codec attributes are set per instance.
        self.name = spec.name
        self.description = spec.description
        self.native_rates = spec.native_rates
        self.max_channels = spec.max_channels
        self.bitrates = spec.bitrates
        self.rate_tolerance = spec.rate_tolerance
        self.lag_tolerance = spec.lag_tolerance
        self.domain = spec.domain
        self.primary = spec.primary
        self.waveform = spec.waveform
        self.envelope_lag_tolerance_s = spec.envelope_lag_tolerance_s

    @abstractmethod
    def _encode_native(
        self, samples: np.ndarray, rate: int, kbps: float | None, bits: int | None
    ) -> NativeEncoding:
        """Encode float32 ``(channels, n)`` samples at ``rate`` into a container file."""

    @abstractmethod
    def _decode_container(self, env: Envelope) -> Audio:
        """Demux and decode ``env.container`` to audio at the native rate."""

    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        self.check_input(audio, kbps)
        ok, reason = self.availability()
        if not ok:
            raise CodecUnavailable(f"{self.name}: {reason}")
        spec = self.spec
        rate = spec.native_rate(kbps, audio.rate)
        native = audio.resample(rate)
        bits = None
        if spec.lossless_bits is not None:
            bits = 16 if is_exact_pcm16(native) else spec.lossless_bits
        delay = spec.delay_at(rate, kbps)
        # Extra zeros let the decoder emit the whole signal after its priming samples.
        tail = delay + spec.max_packet_delay * rate // 48000
        samples = native.samples
        if tail:
            samples = np.concatenate([samples, np.zeros((native.channels, tail), np.float32)], 1)
        result = self._encode_native(samples, rate, kbps, bits)
        delay += result.extra_delay
        envelope = Envelope(
            codec=self.name,
            channels=audio.channels,
            input_rate=audio.rate,
            input_frames=audio.frames,
            native_rate=rate,
            native_frames=native.frames,
            delay=delay,
            container=result.container,
        ).pack()
        params = dict(result.params)
        params.update(native_rate=rate, delay=delay, encoder=spec.encoder, container=spec.container)
        if bits is not None:
            params["bits"] = bits
        return Encoded(
            data=envelope,
            payload_bytes=result.payload_bytes,
            duration_s=audio.duration,
            target_kbps=kbps,
            header_bytes=result.header_bytes,
            container_bytes=len(envelope),
            params=params,
        )

    def decode(self, data: bytes) -> Audio:
        env = Envelope.unpack(data, self.name)
        return finish_decoded(self._decode_container(env), env, self.name)

    def refused(
        self, kbps: float | None, rate: int, channels: int, why: object
    ) -> UnsupportedBitrate:
        """The error for an encoder that will not open with these settings."""
        asked = "no bitrate" if kbps is None else f"{kbps:g} kbps"
        return UnsupportedBitrate(
            f"{self.name}: {self.spec.encoder} refused {asked} at {rate} Hz, "
            f"{channels} channel(s): {why}"
        )
