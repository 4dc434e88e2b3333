"""Classic codecs run in process through PyAV (FFmpeg's libraries, no subprocess per clip).

Each codec is an :class:`~bench.codecs.ffmpeg_common.FFmpegSpec`; :class:`PyAVCodec` encodes
frames with the PyAV encoder, muxes the packets into a standard container in memory, counts the
packet bytes as payload, and on decode demuxes, decodes, drops the codec's priming samples and
returns audio at the input's rate and length.

Delays (samples at the native rate left in the decoded stream after demuxing), each checked by
``tests/codecs/test_alignment.py`` on real clips at every ladder bitrate:

* mp3 in an MP3 file with a LAME/Xing tag: 0 - the demuxer reads the tag's encoder delay and
  padding and trims the 576 + 529 = 1105 samples itself (gapless playback).
* aac in ADTS: 1024 (the encoder's priming frame; ADTS cannot signal it).
* opus and vorbis in Ogg: 0 - the demuxer applies Opus pre-skip / Vorbis granule positions.
* opus in SILK-only narrowband (libopus picks it at about 6-8 kbps): 6 more samples at 48 kHz.
  libopus's SILK decoder resampler (silk/resampler.c, ``delay_matrix_dec``) applies no delay
  compensation for 8 -> 48 kHz, while it does for 12 and 16 kHz; the encoder reads each packet's
  TOC byte and records the extra delay in the envelope, as an edit list would.
* mp2: 481; amrnb: 40 (5 ms look-ahead at 8 kHz); g722: 22 (QMF filter bank).
* speex: 80 at 8 kHz (narrowband), 2 x 80 + 63 = 223 at 16 kHz (wideband adds a QMF split),
  2 x 223 + 63 = 509 at 32 kHz (ultra-wideband splits once more).
"""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np

from bench.audio import Audio, decode_audio_bytes
from bench.codecs import CODECS
from bench.codecs.base import Bitrates
from bench.codecs.ffmpeg_common import (
    OPUS_SILK_NB_DELAY_48K,
    Envelope,
    FFmpegCodec,
    FFmpegSpec,
    NativeEncoding,
    lame_sample_rate,
    opus_packet_delay,
    to_sample_format,
)
from bench.errors import AudioError, BitstreamError, CodecError

#: Bump when the adapter's behaviour (and so its output) changes.
ADAPTER_VERSION = "1"

#: FFmpeg's default layout for a channel count (av_channel_layout_default).
DEFAULT_LAYOUTS = {
    1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1",
}  # fmt: skip
MP2_KBPS = (32, 48, 56, 64, 80, 96, 112, 128, 160)  # legal in MPEG-1 and MPEG-2 LSF layer II
_AMR_KBPS = (4.75, 5.15, 5.9, 6.7, 7.4, 7.95, 10.2, 12.2)

SPECS: tuple[FFmpegSpec, ...] = (
    FFmpegSpec(
        name="mp3",
        description="MP3 (LAME, CBR), sample rate chosen per bitrate as the lame command does",
        encoder="libmp3lame",
        container="mp3",
        sample_fmt="fltp",
        native_rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
        bitrates=Bitrates(
            ladder=(16, 24, 32, 48, 64, 96, 128),
            allowed=(8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
        ),
        delay=0,
        # CBR frames plus the priming/flush frames LAME adds: up to ~7% on a 2-s clip at 16 kbps.
        rate_tolerance=0.08,
        muxer_options={"id3v2_version": "0", "write_id3v1": "0", "write_xing": "1"},
        pick_rate=lame_sample_rate,
    ),
    FFmpegSpec(
        name="aac",
        description="AAC-LC (FFmpeg's native encoder, ABR) in ADTS",
        encoder="aac",
        container="adts",
        sample_fmt="fltp",
        native_rates=(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000),
        bitrates=Bitrates(ladder=(16, 24, 32, 48, 64, 96, 128), low=8, high=256),
        delay=1024,
        rate_tolerance=None,
    ),
    FFmpegSpec(
        name="opus",
        description="Opus (libopus, constrained VBR, 48 kHz) in Ogg",
        encoder="libopus",
        container="ogg",
        sample_fmt="flt",
        native_rates=(48000,),
        bitrates=Bitrates(ladder=(6, 8, 12, 16, 24, 32, 48, 64), low=6, high=256),
        delay=0,
        rate_tolerance=None,
        max_channels=2,
        encoder_options={"vbr": "constrained", "application": "audio"},
        packet_delay=opus_packet_delay,
        max_packet_delay=OPUS_SILK_NB_DELAY_48K,
    ),
    FFmpegSpec(
        name="vorbis",
        description="Vorbis (libvorbis, ABR) in Ogg",
        encoder="libvorbis",
        container="ogg",
        sample_fmt="fltp",
        native_rates=(),
        bitrates=Bitrates(ladder=(32, 48, 64, 96), low=16, high=256),
        delay=0,
        rate_tolerance=None,
        max_channels=2,
    ),
    FFmpegSpec(
        name="mp2",
        description="MPEG-1/2 Layer II (FFmpeg's encoder, CBR)",
        encoder="mp2",
        container="mp2",
        sample_fmt="s16",
        native_rates=(16000, 22050, 24000, 32000, 44100, 48000),
        bitrates=Bitrates(ladder=(32, 48, 64, 96, 128, 160), allowed=MP2_KBPS),
        delay=481,
        rate_tolerance=0.05,  # CBR plus the frames that carry the 481-sample delay
    ),
    FFmpegSpec(
        name="amrnb",
        description="AMR-NB (opencore, 8 kHz speech codec, 8 modes)",
        encoder="libopencore_amrnb",
        container="amr",
        sample_fmt="s16",
        native_rates=(8000,),
        bitrates=Bitrates(ladder=_AMR_KBPS, allowed=_AMR_KBPS),
        delay=40,
        domain="speech",
        # The measured rate includes the one-byte frame header AMR storage carries per frame.
        rate_tolerance=0.10,
        lag_tolerance=1,  # CELP: a sub-sample residual (about -0.15 at 8 kHz) rounds to 1
    ),
    FFmpegSpec(
        name="g722",
        description="G.722 (16 kHz wideband ADPCM speech codec, 64 kbps)",
        encoder="g722",
        container="g722",
        sample_fmt="s16",
        native_rates=(16000,),
        bitrates=Bitrates(ladder=(64,), allowed=(64,)),
        delay=22,
        domain="speech",
        rate_tolerance=0.01,
    ),
    FFmpegSpec(
        name="speex",
        description="Speex (libspeex, CBR: the highest mode at or below the target; 8/16/32 kHz)",
        encoder="libspeex",
        container="ogg",
        sample_fmt="s16",
        native_rates=(8000, 16000, 32000),
        bitrates=Bitrates(ladder=(8, 12, 16, 24), low=4, high=42),
        delay={8000: 80, 16000: 223, 32000: 509},
        domain="speech",
        lag_tolerance=1,  # CELP: a sub-sample residual (about -0.3 at 16 kHz) rounds to 1
        rate_tolerance=None,
    ),
    FFmpegSpec(
        name="flac",
        description="FLAC, the lossless reference (16-bit for 16-bit sources, else 24-bit)",
        encoder="flac",
        container="flac",
        sample_fmt="s32",
        native_rates=(),
        bitrates=Bitrates(ladder=()),
        delay=0,
        max_channels=8,
        lossless_bits=24,
    ),
)


class PyAVCodec(FFmpegCodec):
    """An :class:`FFmpegSpec` run in process with PyAV."""

    backend = "pyav"

    def availability(self) -> tuple[bool, str]:
        try:
            import av
        except ImportError as exc:  # pragma: no cover - av is a core dependency
            return False, f"PyAV not importable: {exc}"
        try:
            av.codec.Codec(self.spec.encoder, "w")
        except Exception:
            return False, f"this PyAV build ({av.__version__}) has no {self.spec.encoder} encoder"
        if self.spec.container not in av.formats_available:
            return False, f"this PyAV build has no {self.spec.container} muxer"
        return True, ""

    def version(self) -> str:
        import av

        lib = ".".join(map(str, av.library_versions["libavcodec"]))
        return f"pyav-adapter {ADAPTER_VERSION}; av {av.__version__}; libavcodec {lib}"

    def _encode_native(
        self, samples: np.ndarray, rate: int, kbps: float | None, bits: int | None
    ) -> NativeEncoding:
        import av

        spec = self.spec
        channels = samples.shape[0]
        # FLAC codes 16-bit sources at 16 bits (bit-exact round trip), others at 24 in s32.
        sample_fmt = "s16" if bits == 16 else spec.sample_fmt
        options = dict(spec.encoder_options)
        if kbps is not None and spec.rate_options is not None:
            options.update(spec.rate_options(kbps))
        buffer = io.BytesIO()
        payload = 0
        first_bytes: list[bytes] = []
        try:
            with av.open(
                buffer, mode="w", format=spec.container, options=dict(spec.muxer_options)
            ) as out:
                stream = out.add_stream(spec.encoder, rate=rate, options=options)
                context = stream.codec_context
                context.layout = DEFAULT_LAYOUTS[channels]
                context.format = sample_fmt
                if kbps is not None and spec.rate_options is None:
                    context.bit_rate = round(kbps * 1000)
                context.time_base = Fraction(1, rate)
                try:
                    context.open()
                except (av.error.ValueError, av.error.OSError) as exc:
                    raise self.refused(kbps, rate, channels, exc) from None
                frame_size = context.frame_size or 4096
                total = samples.shape[1]
                caps = context.codec.capabilities
                if not caps & av.codec.codec.Capabilities.small_last_frame and total % frame_size:
                    # Encoders without small-last-frame support need whole frames.
                    pad = np.zeros((channels, frame_size - total % frame_size), np.float32)
                    samples = np.concatenate([samples, pad], 1)
                    total = samples.shape[1]
                for start in [*range(0, total, frame_size), None]:
                    frame = None
                    if start is not None:
                        chunk = samples[:, start : start + frame_size]
                        frame = av.AudioFrame.from_ndarray(
                            to_sample_format(chunk, sample_fmt, bits),
                            format=sample_fmt,
                            layout=context.layout,
                        )
                        frame.sample_rate = rate
                        frame.pts = start
                        frame.time_base = Fraction(1, rate)
                    for packet in stream.encode(frame):  # frame None flushes
                        payload += packet.size
                        if spec.packet_delay is not None:
                            first_bytes.append(bytes(packet)[:1])
                        out.mux(packet)
                header = len(context.extradata or b"")
        except av.error.FFmpegError as exc:
            raise CodecError(f"{self.name}: FFmpeg failed to encode: {exc}") from None
        extra = spec.packet_delay(first_bytes, rate) if spec.packet_delay else 0
        params = {"options": options} if options else {}
        return NativeEncoding(buffer.getvalue(), payload, header, extra, params)

    def _decode_container(self, env: Envelope) -> Audio:
        try:
            return decode_audio_bytes(env.container, format=self.spec.demux_format)
        except AudioError as exc:
            raise BitstreamError(f"{self.name}: cannot decode the container: {exc}") from None


for _spec in SPECS:
    CODECS.register(_spec.name)(PyAVCodec(_spec))
