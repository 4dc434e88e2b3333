"""EnCodec (Défossez et al. 2022) through ``transformers.EncodecModel``.

``encodec24``  facebook/encodec_24khz, mono, 75 frames/s, 1024-entry codebooks (10 bits):
               1.5/3/6/12/24 kbps = 2/4/8/16/32 codebooks; the whole clip is one frame.
``encodec48``  facebook/encodec_48khz, stereo, 150 frames/s, 1.5 kbps a codebook: 3/6/12/24
               kbps = 2/4/8/16 codebooks. The model codes 1-s segments that overlap by 1 %
               (a segment every 0.99 s, so ~1 % more frames than the nominal rate counts) and
               normalises each by its RMS: that scale, one float32 a segment, is side information
               in the stream (32 bits a segment, as the official ``.ecdc`` writer stores it).

``-rc`` names code the same codes with the adaptive range coder of
:mod:`bench.codecs.neural.bitstream` (no learned prior: EnCodec's own entropy model is a
transformer language model that ``transformers`` does not ship).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.codecs import register_codec
from bench.codecs.neural import bitstream
from bench.codecs.neural.base import NeuralPeer
from bench.codecs.neural.weights import WeightSource
from bench.errors import BitstreamError, CodecUnavailable


class _Encodec(NeuralPeer):
    """Shared EnCodec logic; subclasses fix the checkpoint."""

    codebook_size: ClassVar[int] = 1024
    domain: ClassVar[str] = "general"

    def load_model(self, folder: Path) -> Any:
        from transformers import EncodecModel

        model = EncodecModel.from_pretrained(folder, local_files_only=True)
        cfg = model.config
        if cfg.sampling_rate != self.model_rate or cfg.audio_channels != self.model_channels:
            raise CodecUnavailable(
                f"{self.name}: {folder} holds a {cfg.sampling_rate} Hz, {cfg.audio_channels}-"
                f"channel EnCodec, expected {self.model_rate} Hz, {self.model_channels}"
            )
        if cfg.codebook_size != self.codebook_size:
            raise CodecUnavailable(f"{self.name}: {folder} has codebooks of {cfg.codebook_size}")
        for kbps, n in self.points.items():
            got = model.quantizer.get_num_quantizers_for_bandwidth(kbps)
            if kbps not in cfg.target_bandwidths or got != n:
                raise CodecUnavailable(
                    f"{self.name}: {folder} does not run {kbps} kbps with {n} codebooks"
                )
        return model

    # -- segments (48 kHz) ------------------------------------------------------------------
    @staticmethod
    def _segments(model: Any, samples: int) -> tuple[int, int, int, int]:
        """(segments, frames of a full segment, frames of the last, padded length).

        As the official encoder does, segments start every ``chunk_stride`` samples and the last
        one is what is left of the input; it is padded with zeros to at least two frames and to
        the segments' overlap, below which the model's normalisation and ``transformers``'
        overlap-add fail."""
        cfg = model.config
        hop = int(np.prod(cfg.upsampling_ratios))
        if cfg.chunk_length is None:
            return 1, math.ceil(samples / hop), math.ceil(samples / hop), samples
        stride = cfg.chunk_stride
        count = max(1, math.ceil(samples / stride))
        shortest = math.ceil(max(2 * hop, cfg.chunk_length - stride) / hop) * hop
        last = max(samples - stride * (count - 1), shortest)
        full = math.ceil(cfg.chunk_length / hop)
        return count, full, math.ceil(last / hop), stride * (count - 1) + last

    def code_shapes(self, model: Any, samples: int, n_codebooks: int) -> list[tuple[int, int]]:
        count, full, last, _ = self._segments(model, samples)
        return [(n_codebooks, full * (count - 1) + last)]

    def encode_codes(
        self, model: Any, signal: np.ndarray, n_codebooks: int
    ) -> tuple[list[np.ndarray], bytes]:
        import torch

        kbps = next(k for k, n in self.points.items() if n == n_codebooks)
        count, _, last, padded = self._segments(model, signal.shape[-1])
        x = np.zeros((1, signal.shape[0], padded), dtype=np.float32)
        x[0, :, : signal.shape[-1]] = signal
        out = model.encode(torch.from_numpy(x), bandwidth=kbps, return_dict=True)
        codes = out.audio_codes.numpy()  # (segments, 1, codebooks, frames)
        if codes.shape[:3] != (count, 1, n_codebooks):
            raise CodecUnavailable(f"{self.name}: model returned codes of shape {codes.shape}")
        # The last segment's codes were padded to a full one; only its own frames are sent.
        parts = [codes[i, 0] for i in range(count - 1)] + [codes[-1, 0, :, :last]]
        flat = np.concatenate(parts, axis=1)
        side = b""
        if model.config.normalize:
            scales = [float(s.reshape(-1)[0]) for s in out.audio_scales]
            side = struct.pack(f"<{len(scales)}f", *scales)
        return [flat.astype(np.int64)], side

    def decode_codes(
        self, model: Any, groups: list[np.ndarray], side: bytes, samples: int
    ) -> np.ndarray:
        import torch

        count, full, last, _ = self._segments(model, samples)
        (codes,) = groups
        if model.config.normalize:
            if len(side) != 4 * count:
                raise BitstreamError(
                    f"{self.name}: {count} segment scale(s) need {4 * count} bytes of side "
                    f"information, got {len(side)}"
                )
            scales = np.frombuffer(side, dtype="<f4")
            if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
                raise BitstreamError(f"{self.name}: segment scales are not positive numbers")
            audio_scales = [torch.tensor([[float(s)]]) for s in scales]
        else:
            if side:
                raise BitstreamError(f"{self.name}: unexpected side information")
            audio_scales = [None]
        n = codes.shape[0]
        if count == 1:
            stacked = codes[None, None]
            pad = 0
        else:
            stacked = np.zeros((count, 1, n, full), dtype=np.int64)
            for i in range(count - 1):
                stacked[i, 0] = codes[:, i * full : (i + 1) * full]
            stacked[-1, 0, :, :last] = codes[:, (count - 1) * full :]
            pad = full - last
        out = model.decode(
            torch.from_numpy(np.ascontiguousarray(stacked)), audio_scales,
            last_frame_pad_length=pad, return_dict=True,
        )  # fmt: skip
        return out.audio_values[0].numpy()


_E24 = WeightSource(codec="encodec24", repo="facebook/encodec_24khz")
_E48 = WeightSource(codec="encodec48", repo="facebook/encodec_48khz")
_P24 = {1.5: 2, 3.0: 4, 6.0: 8, 12.0: 16, 24.0: 32}
_P48 = {3.0: 2, 6.0: 4, 12.0: 8, 24.0: 16}


@register_codec
class Encodec24(_Encodec):
    """EnCodec 24 kHz (mono), codes bit-packed."""

    name: ClassVar[str] = "encodec24"
    description: ClassVar[str] = "EnCodec 24 kHz mono (transformers), codes bit-packed at 10 bits"
    codec_id: ClassVar[int] = 1
    weights: ClassVar[WeightSource] = _E24
    model_rate: ClassVar[int] = 24000
    model_channels: ClassVar[int] = 1
    points: ClassVar[dict[float, int]] = _P24


@register_codec
class Encodec24Rc(Encodec24):
    """EnCodec 24 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "encodec24-rc"
    description: ClassVar[str] = "EnCodec 24 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE


@register_codec
class Encodec48(_Encodec):
    """EnCodec 48 kHz (stereo model), codes bit-packed, one scale per segment."""

    name: ClassVar[str] = "encodec48"
    description: ClassVar[str] = (
        "EnCodec 48 kHz stereo (transformers), codes bit-packed, per-1-s-segment scales counted"
    )
    codec_id: ClassVar[int] = 2
    weights: ClassVar[WeightSource] = _E48
    model_rate: ClassVar[int] = 48000
    model_channels: ClassVar[int] = 2
    points: ClassVar[dict[float, int]] = _P48


@register_codec
class Encodec48Rc(Encodec48):
    """EnCodec 48 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "encodec48-rc"
    description: ClassVar[str] = "EnCodec 48 kHz stereo, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE
