"""Mimi (Kyutai, the codec of Moshi) through ``transformers.MimiModel``.

``mimi``     kyutai/mimi, 24 kHz mono, 12.5 frames/s, 2048-entry codebooks (11 bits): the first
             codebook is the semantic one, the rest acoustic residuals. Operating points by
             number of codebooks: 2/4/8/16/32 codebooks = 0.275/0.55/1.1/2.2/4.4 kbps (Moshi
             itself uses 8).
``mimi-rc``  the same codes range-coded with the adaptive model of
             :mod:`bench.codecs.neural.bitstream`.

The model is causal and runs on the whole clip at once (not streaming).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.codecs import register_codec
from bench.codecs.neural import bitstream
from bench.codecs.neural.base import NeuralPeer
from bench.codecs.neural.weights import WeightSource
from bench.errors import CodecUnavailable

#: Codebooks of each operating point.
CODEBOOKS = (2, 4, 8, 16, 32)
_BITS = 11
_FRAME_RATE = 12.5


@register_codec
class Mimi(NeuralPeer):
    """Mimi, codes bit-packed at 11 bits."""

    name: ClassVar[str] = "mimi"
    description: ClassVar[str] = "Mimi 24 kHz mono (transformers), codes bit-packed at 11 bits"
    codec_id: ClassVar[int] = 3
    weights: ClassVar[WeightSource] = WeightSource(codec="mimi", repo="kyutai/mimi")
    model_rate: ClassVar[int] = 24000
    model_channels: ClassVar[int] = 1
    codebook_size: ClassVar[int] = 2048
    points: ClassVar[dict[float, int]] = {
        round(n * _BITS * _FRAME_RATE / 1000, 4): n for n in CODEBOOKS
    }
    domain: ClassVar[str] = "general"

    def load_model(self, folder: Path) -> Any:
        from transformers import MimiModel

        model = MimiModel.from_pretrained(folder, local_files_only=True)
        cfg = model.config
        if (cfg.sampling_rate, cfg.codebook_size) != (self.model_rate, self.codebook_size):
            raise CodecUnavailable(
                f"{self.name}: {folder} holds a {cfg.sampling_rate} Hz Mimi with "
                f"{cfg.codebook_size}-entry codebooks, expected {self.model_rate} Hz, "
                f"{self.codebook_size}"
            )
        if cfg.num_quantizers < max(CODEBOOKS):
            raise CodecUnavailable(f"{self.name}: {folder} has {cfg.num_quantizers} codebooks")
        return model

    def code_shapes(self, model: Any, samples: int, n_codebooks: int) -> list[tuple[int, int]]:
        return [(n_codebooks, math.ceil(samples / model.config.frame_size))]

    def encode_codes(
        self, model: Any, signal: np.ndarray, n_codebooks: int
    ) -> tuple[list[np.ndarray], bytes]:
        import torch

        # Padded to whole frames at the end (the model is causal: the start is not moved).
        frame = model.config.frame_size
        padded = np.zeros((1, 1, math.ceil(signal.shape[-1] / frame) * frame), np.float32)
        padded[0, 0, : signal.shape[-1]] = signal[0]
        out = model.encode(torch.from_numpy(padded), num_quantizers=n_codebooks)
        codes = out.audio_codes[0].numpy().astype(np.int64)
        return [codes], b""

    def decode_codes(
        self, model: Any, groups: list[np.ndarray], side: bytes, samples: int
    ) -> np.ndarray:
        import torch

        (codes,) = groups
        out = model.decode(torch.from_numpy(np.ascontiguousarray(codes[None])))
        return out.audio_values[0].numpy()


@register_codec
class MimiRc(Mimi):
    """Mimi, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "mimi-rc"
    description: ClassVar[str] = "Mimi 24 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE
