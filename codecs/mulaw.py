"""Example drop-in codec: G.711 mu-law, the 64 kbps telephony codec, in 60 lines of numpy.

Copy this file, change the class, and the suite picks your codec up: any ``*.py`` in the
top-level ``codecs/`` folder (or in a folder named by ``$BENCH_CODECS_DIR``) is imported on
start-up, and ``@register_codec`` adds the class to the registry under ``name``. See the README
section "Add a codec adapter".

The bitstream is honest: an 18-byte versioned header (magic, version, input rate, input length)
followed by one byte per 8-kHz sample. ``payload_bytes`` counts the samples' bytes; the header
is reported as container bytes.
"""

from __future__ import annotations

import struct

import numpy as np

from bench.audio import Audio
from bench.codecs import register_codec
from bench.codecs.base import Bitrates, Codec, Encoded
from bench.errors import AudioError, BitstreamError

_HEADER = struct.Struct(">4sHIQ")  # magic, version, input rate, input frames
_MAGIC, _VERSION = b"ULAW", 1
_BIAS, _CLIP = 0x84, 32635  # G.711: bias added before the segment search, 14-bit clip


def mulaw_encode(pcm: np.ndarray) -> np.ndarray:
    """int16 -> G.711 mu-law bytes (segment/mantissa form, as the standard tables define)."""
    x = pcm.astype(np.int32)
    sign = (x < 0).astype(np.int32)
    magnitude = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~((sign << 7) | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    """G.711 mu-law bytes -> int16."""
    c = (~codes.astype(np.int32)) & 0xFF
    exponent, mantissa = (c >> 4) & 0x07, c & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(c & 0x80, -magnitude, magnitude).astype(np.int16)


@register_codec
class MuLaw(Codec):
    """G.711 mu-law at 8 kHz: 8 bits per sample, 64 kbps, no delay."""

    name = "mulaw"
    description = "G.711 mu-law (example drop-in plug-in in codecs/mulaw.py, numpy, 8 kHz)"
    native_rates = (8000,)
    max_channels = 1
    bitrates = Bitrates(ladder=(64,), allowed=(64,))
    rate_tolerance = 0.001
    domain = "speech"
    backend = "python"

    def version(self) -> str:
        return f"mulaw-example {_VERSION}"

    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        self.check_input(audio, kbps)
        codes = mulaw_encode(audio.resample(8000).to_pcm16()[0])
        header = _HEADER.pack(_MAGIC, _VERSION, audio.rate, audio.frames)
        data = header + codes.tobytes()
        return Encoded(
            data,
            payload_bytes=codes.size,
            duration_s=audio.duration,
            target_kbps=kbps,
            container_bytes=len(data),
            params={"native_rate": 8000},
        )

    def decode(self, data: bytes) -> Audio:
        if len(data) <= _HEADER.size or data[:4] != _MAGIC:
            raise BitstreamError("mulaw: not a mu-law bitstream (bad magic or truncated)")
        _, version, rate, frames = _HEADER.unpack_from(data)
        if version != _VERSION:
            raise BitstreamError(f"mulaw: unsupported version {version}")
        codes = np.frombuffer(data, dtype=np.uint8, offset=_HEADER.size)
        # The header's length must agree with the payload, so no corrupt header can make us
        # allocate more than the bytes justify.
        if frames < 1 or not 1000 <= rate <= 768_000 or abs(codes.size - frames * 8000 / rate) > 2:
            raise BitstreamError("mulaw: header length or rate does not match the payload")
        decoded = Audio.from_pcm(mulaw_decode(codes), 8000)
        try:
            return decoded.resample(rate).with_frames(frames)
        except AudioError as exc:  # e.g. one sample cannot be resampled: not bytes we wrote
            raise BitstreamError(f"mulaw: {exc}") from None
