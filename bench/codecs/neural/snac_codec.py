"""SNAC, the Multi-Scale Neural Audio Codec (Siuzdak 2024), through the ``snac`` package.

SNAC quantizes with residual codebooks of 4096 entries (12 bits a code) that run at different
frame rates: codebook ``i`` averages ``vq_strides[i]`` latent frames. Each model has one
operating point (all its codebooks):

``snac24``  hubertsiuzdak/snac_24khz: hop 512, strides 4/2/1 (11.7, 23.4, 46.9 frames/s):
            0.984 kbps nominal.
``snac32``  hubertsiuzdak/snac_32khz: hop 384, strides 8/4/2/1 (10.4-83.3 frames/s): 1.875 kbps.
``snac44``  hubertsiuzdak/snac_44khz: hop 384 at 44.1 kHz (14.4-114.8 frames/s): 2.584 kbps.

``SNAC.preprocess`` pads the signal at the end to a multiple of ``hop * lcm(vq_strides[0],
attn_window_size)`` samples (2048 at 24 kHz; 12288 = 0.38 s at 32 kHz, 0.28 s at 44.1 kHz, for
the local attention's windows), and those padded frames are sent: on short clips the measured
rate is above the nominal one. Each scale is one code group of the stream. The convolutions are
symmetric, so the output is aligned with the input. The models are mono: a stereo input is coded
channel by channel.

SNAC's decoder adds noise (``NoiseBlock``: ``torch.randn`` scaled by a learned projection); the
adapter draws it from a fixed seed, so decoding the same bytes always gives the same audio.

Weights: the folder layout ``SNAC.from_pretrained`` reads, ``config.json`` + ``pytorch_model.bin``
(a ``torch.save``\\ d state dict), as in the published Hugging Face repos.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.codecs import register_codec
from bench.codecs.neural import bitstream
from bench.codecs.neural.base import NeuralPeer
from bench.codecs.neural.weights import WeightSource
from bench.errors import CodecUnavailable

#: Seed of the decoder's noise.
NOISE_SEED = 0


def snac_geometry(config: dict[str, Any]) -> tuple[int, int, tuple[int, ...]]:
    """(hop, padding multiple, vq strides) of a SNAC ``config.json``, as ``SNAC`` computes them."""
    hop = int(np.prod(config["encoder_rates"]))
    strides = tuple(int(s) for s in config["vq_strides"])
    pad_to = hop * math.lcm(strides[0], config.get("attn_window_size") or 1)
    return hop, pad_to, strides


def snac_nominal_kbps(config: dict[str, Any]) -> float:
    """``12 bits * sum(frame rate of each codebook)`` in kbps, rounded to 1 b/s."""
    hop, _, strides = snac_geometry(config)
    bits = math.ceil(math.log2(config["codebook_size"]))
    frames_per_s = sum(config["sampling_rate"] / hop / s for s in strides)
    return round(bits * frames_per_s / 1000.0, 3)


#: The published checkpoints' config.json (hubertsiuzdak/snac_24khz, _32khz, _44khz).
CONFIGS: dict[str, dict[str, Any]] = {
    "snac24": {
        "sampling_rate": 24000, "encoder_dim": 48, "encoder_rates": [2, 4, 8, 8],
        "decoder_dim": 1024, "decoder_rates": [8, 8, 4, 2], "attn_window_size": None,
        "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [4, 2, 1], "noise": True,
        "depthwise": True,
    },
    "snac32": {
        "sampling_rate": 32000, "encoder_dim": 64, "encoder_rates": [2, 3, 8, 8],
        "decoder_dim": 1536, "decoder_rates": [8, 8, 3, 2], "attn_window_size": 32,
        "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [8, 4, 2, 1], "noise": True,
        "depthwise": True,
    },
    "snac44": {
        "sampling_rate": 44100, "encoder_dim": 64, "encoder_rates": [2, 3, 8, 8],
        "decoder_dim": 1536, "decoder_rates": [8, 8, 3, 2], "attn_window_size": 32,
        "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [8, 4, 2, 1], "noise": True,
        "depthwise": True,
    },
}  # fmt: skip


class _Snac(NeuralPeer):
    """Shared SNAC logic; subclasses fix the checkpoint."""

    codebook_size: ClassVar[int] = 4096
    model_channels: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ("torch", "snac", "einops")
    #: The geometry the published checkpoint has (the weights' config.json must agree).
    config: ClassVar[dict[str, Any]] = {}

    def load_model(self, folder: Path) -> Any:
        from snac import SNAC

        with open(folder / "config.json", encoding="utf-8") as handle:
            found = json.load(handle)
        keys = ("sampling_rate", "encoder_rates", "attn_window_size", "codebook_size", "vq_strides")
        if any(found.get(k) != self.config[k] for k in keys):
            got = {k: found.get(k) for k in keys}
            want = {k: self.config[k] for k in keys}
            raise CodecUnavailable(f"{self.name}: {folder}/config.json has {got}, expected {want}")
        return SNAC.from_pretrained(str(folder))

    def code_shapes(self, model: Any, samples: int, n_codebooks: int) -> list[tuple[int, int]]:
        hop, pad_to, strides = snac_geometry(self.config)
        finest = math.ceil(samples / pad_to) * pad_to // hop
        return [(1, finest // s) for s in strides[:n_codebooks]]

    def encode_codes(
        self, model: Any, signal: np.ndarray, n_codebooks: int
    ) -> tuple[list[np.ndarray], bytes]:
        import torch

        codes = model.encode(torch.from_numpy(np.array(signal[None], dtype=np.float32)))
        groups = [c.numpy().astype(np.int64).reshape(1, -1) for c in codes]
        shapes = [g.shape for g in groups]
        if shapes != self.code_shapes(model, signal.shape[-1], n_codebooks):
            raise CodecUnavailable(f"{self.name}: model returned codes of shapes {shapes}")
        return groups, b""

    def decode_codes(
        self, model: Any, groups: list[np.ndarray], side: bytes, samples: int
    ) -> np.ndarray:
        import torch

        del side  # SNAC sends none
        codes = [torch.from_numpy(np.ascontiguousarray(g)) for g in groups]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(NOISE_SEED)
            audio = model.decode(codes)
        return audio.numpy().reshape(1, -1)


def _points(name: str) -> dict[float, int]:
    return {snac_nominal_kbps(CONFIGS[name]): len(CONFIGS[name]["vq_strides"])}


def _source(name: str) -> WeightSource:
    rate = name[len("snac") :]
    return WeightSource(
        codec=name,
        repo=f"hubertsiuzdak/snac_{rate}khz",
        files=("config.json", "pytorch_model.bin"),
        alternatives=(),
    )


class _Snac24(_Snac):
    codec_id: ClassVar[int] = 20
    weights: ClassVar[WeightSource] = _source("snac24")
    model_rate: ClassVar[int] = 24000
    config: ClassVar[dict[str, Any]] = CONFIGS["snac24"]
    points: ClassVar[dict[float, int]] = _points("snac24")
    domain: ClassVar[str] = "speech"


class _Snac32(_Snac):
    codec_id: ClassVar[int] = 21
    weights: ClassVar[WeightSource] = _source("snac32")
    model_rate: ClassVar[int] = 32000
    config: ClassVar[dict[str, Any]] = CONFIGS["snac32"]
    points: ClassVar[dict[float, int]] = _points("snac32")
    domain: ClassVar[str] = "general"


class _Snac44(_Snac):
    codec_id: ClassVar[int] = 22
    weights: ClassVar[WeightSource] = _source("snac44")
    model_rate: ClassVar[int] = 44100
    config: ClassVar[dict[str, Any]] = CONFIGS["snac44"]
    points: ClassVar[dict[float, int]] = _points("snac44")
    domain: ClassVar[str] = "general"


@register_codec
class Snac24(_Snac24):
    """SNAC 24 kHz (speech), codes bit-packed."""

    name: ClassVar[str] = "snac24"
    description: ClassVar[str] = (
        "SNAC 24 kHz mono speech model (snac), 3 scales bit-packed at 12 bits"
    )


@register_codec
class Snac24Rc(_Snac24):
    """SNAC 24 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "snac24-rc"
    description: ClassVar[str] = "SNAC 24 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE


@register_codec
class Snac32(_Snac32):
    """SNAC 32 kHz (music/sound), codes bit-packed."""

    name: ClassVar[str] = "snac32"
    description: ClassVar[str] = (
        "SNAC 32 kHz mono music model (snac), 4 scales bit-packed at 12 bits"
    )


@register_codec
class Snac32Rc(_Snac32):
    """SNAC 32 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "snac32-rc"
    description: ClassVar[str] = "SNAC 32 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE


@register_codec
class Snac44(_Snac44):
    """SNAC 44.1 kHz (music/sound), codes bit-packed."""

    name: ClassVar[str] = "snac44"
    description: ClassVar[str] = (
        "SNAC 44.1 kHz mono music model (snac), 4 scales bit-packed at 12 bits"
    )


@register_codec
class Snac44Rc(_Snac44):
    """SNAC 44.1 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "snac44-rc"
    description: ClassVar[str] = "SNAC 44.1 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE
