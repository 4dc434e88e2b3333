"""DAC, the Descript Audio Codec (Kumar et al. 2023), through ``transformers.DacModel``.

``dac16``  descript/dac_16khz: 16 kHz, hop 320 (50 frames/s), 12 codebooks of 1024 (10 bits):
           0.5 kbps a codebook, 0.5-6 kbps.
``dac24``  descript/dac_24khz: 24 kHz, hop 320 (75 frames/s), 32 codebooks: 0.75 kbps a codebook,
           0.75-24 kbps.
``dac44``  descript/dac_44khz: 44.1 kHz, hop 512 (86.13 frames/s), 9 codebooks: 0.861 kbps a
           codebook, 0.861-7.752 kbps.

Every number of codebooks is an operating point (DAC is trained with quantizer dropout, so the
first ``n`` codebooks of the residual quantizer are a valid code); the default ladder is a subset.
Nominal rates are ``n * 10 * rate / hop`` rounded to 1 b/s (so ``--bitrates 7.752`` names
``dac44`` at 9 codebooks). The models are mono: a stereo input is coded channel by channel.

The signal is padded at the end to whole hops, as ``DAC.preprocess`` does, and encoded in one
piece; the convolutions are centred, so the output is aligned with the input (no delay to
remove). The 16 and 24 kHz decoders return 8 samples fewer than ``frames * hop`` (a stride-5
stage, see :func:`decoded_length`); when those would be signal, one more frame is sent.
The hop is taken from ``downsampling_ratios``: the published ``config.json`` of the 16 and
24 kHz checkpoints carries a stale ``"hop_length": 512`` that ``DacConfig`` keeps, and its
``frame_rate`` is rounded up to an integer.

``-rc`` names code the same codes with the adaptive range coder of
:mod:`bench.codecs.neural.bitstream`. DAC's own ``compress`` / ``.dac`` files are
:mod:`bench.codecs.neural.dacfile` (``dac16-file`` ...).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.codecs import register_codec
from bench.codecs.base import Bitrates
from bench.codecs.neural import bitstream
from bench.codecs.neural.base import NeuralPeer
from bench.codecs.neural.weights import WeightSource
from bench.errors import CodecUnavailable

#: Bits of one DAC code: the codebooks have 1024 entries.
CODE_BITS = 10


def nominal_kbps(n_codebooks: int, rate: int, hop: int, bits: int = CODE_BITS) -> float:
    """``n * bits * rate / hop`` in kbps, rounded to 1 b/s (the ladder's values)."""
    return round(n_codebooks * bits * rate / hop / 1000.0, 3)


def decoded_length(ratios: tuple[int, ...], frames: int) -> int:
    """Samples DAC's decoder gives for ``frames`` code frames.

    Each upsampling stage is a transposed convolution of kernel ``2s``, stride ``s`` and padding
    ``ceil(s/2)``: ``(L - 1) s + 2s - 2 ceil(s/2)`` samples, one short of ``L s`` when ``s`` is
    odd. So the 16 and 24 kHz models (a stride of 5) decode 8 samples fewer than
    ``frames * hop``, all at the end (their frames stay centred on the encoder's).
    """
    length = frames
    for s in reversed(ratios):
        length = (length - 1) * s + 2 * s - 2 * math.ceil(s / 2)
    return length


class _Dac(NeuralPeer):
    """Shared DAC logic; subclasses fix the checkpoint and its geometry."""

    codebook_size: ClassVar[int] = 1024
    model_channels: ClassVar[int] = 1
    domain: ClassVar[str] = "general"
    #: Encoder strides and codebooks of the published checkpoint.
    ratios: ClassVar[tuple[int, ...]] = ()
    n_codebooks: ClassVar[int] = 0
    #: Codebook counts of the default ladder (every count is allowed).
    ladder_codebooks: ClassVar[tuple[int, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.points and cls.ladder_codebooks:
            ladder = tuple(sorted(k for k, n in cls.points.items() if n in cls.ladder_codebooks))
            cls.bitrates = Bitrates(ladder=ladder, allowed=tuple(sorted(cls.points)))

    @property
    def hop(self) -> int:
        """Samples per code frame at the model rate."""
        return int(np.prod(self.ratios))

    def frames_for(self, samples: int) -> int:
        """Code frames sent for ``samples`` samples: whole hops, as ``DAC.preprocess`` pads, and
        one more when the decoder's short tail (see :func:`decoded_length`) would fall inside
        the signal, so that every output sample is decoded, none filled in."""
        tail = self.hop - decoded_length(self.ratios, 1)
        return math.ceil((samples + tail) / self.hop)

    def load_model(self, folder: Path) -> Any:
        from transformers import DacModel

        model = DacModel.from_pretrained(folder, local_files_only=True)
        cfg = model.config
        found = (cfg.sampling_rate, tuple(cfg.downsampling_ratios), cfg.n_codebooks)
        wanted = (self.model_rate, self.ratios, self.n_codebooks)
        if found != wanted or cfg.codebook_size != self.codebook_size:
            raise CodecUnavailable(
                f"{self.name}: {folder} holds a DAC of (rate, strides, codebooks) {found} with "
                f"{cfg.codebook_size}-entry codebooks; expected {wanted} with {self.codebook_size}"
            )
        return model

    def code_shapes(self, model: Any, samples: int, n_codebooks: int) -> list[tuple[int, int]]:
        return [(n_codebooks, self.frames_for(samples))]

    def encode_codes(
        self, model: Any, signal: np.ndarray, n_codebooks: int
    ) -> tuple[list[np.ndarray], bytes]:
        import torch

        frames = self.frames_for(signal.shape[-1])
        x = np.zeros((1, 1, frames * self.hop), dtype=np.float32)  # zeros at the end only
        x[0, :, : signal.shape[-1]] = signal
        out = model.encode(torch.from_numpy(x), n_quantizers=n_codebooks, return_dict=True)
        codes = out.audio_codes.numpy()
        if codes.shape != (1, n_codebooks, frames):
            raise CodecUnavailable(f"{self.name}: model returned codes of shape {codes.shape}")
        return [codes[0].astype(np.int64)], b""

    def decode_codes(
        self, model: Any, groups: list[np.ndarray], side: bytes, samples: int
    ) -> np.ndarray:
        import torch

        (codes,) = groups
        del side  # DAC sends none (the header's side-information size is 0)
        out = model.decode(audio_codes=torch.from_numpy(codes[None]), return_dict=True)
        return out.audio_values.numpy().reshape(1, -1)


def _points(rate: int, ratios: tuple[int, ...], n_codebooks: int) -> dict[float, int]:
    hop = int(np.prod(ratios))
    return {nominal_kbps(n, rate, hop): n for n in range(1, n_codebooks + 1)}


_D16 = WeightSource(codec="dac16", repo="descript/dac_16khz")
_D24 = WeightSource(codec="dac24", repo="descript/dac_24khz")
_D44 = WeightSource(codec="dac44", repo="descript/dac_44khz")


class _Dac16(_Dac):
    codec_id: ClassVar[int] = 10
    weights: ClassVar[WeightSource] = _D16
    model_rate: ClassVar[int] = 16000
    ratios: ClassVar[tuple[int, ...]] = (2, 4, 5, 8)
    n_codebooks: ClassVar[int] = 12
    points: ClassVar[dict[float, int]] = _points(16000, (2, 4, 5, 8), 12)
    ladder_codebooks: ClassVar[tuple[int, ...]] = (1, 2, 4, 8, 12)


class _Dac24(_Dac):
    codec_id: ClassVar[int] = 11
    weights: ClassVar[WeightSource] = _D24
    model_rate: ClassVar[int] = 24000
    ratios: ClassVar[tuple[int, ...]] = (2, 4, 5, 8)
    n_codebooks: ClassVar[int] = 32
    points: ClassVar[dict[float, int]] = _points(24000, (2, 4, 5, 8), 32)
    ladder_codebooks: ClassVar[tuple[int, ...]] = (1, 2, 4, 8, 16, 32)


class _Dac44(_Dac):
    codec_id: ClassVar[int] = 12
    weights: ClassVar[WeightSource] = _D44
    model_rate: ClassVar[int] = 44100
    ratios: ClassVar[tuple[int, ...]] = (2, 4, 8, 8)
    n_codebooks: ClassVar[int] = 9
    points: ClassVar[dict[float, int]] = _points(44100, (2, 4, 8, 8), 9)
    ladder_codebooks: ClassVar[tuple[int, ...]] = (1, 2, 4, 6, 9)


@register_codec
class Dac16(_Dac16):
    """DAC 16 kHz, codes bit-packed."""

    name: ClassVar[str] = "dac16"
    description: ClassVar[str] = (
        "DAC 16 kHz mono (transformers), 1-12 codebooks bit-packed at 10 bits"
    )


@register_codec
class Dac16Rc(_Dac16):
    """DAC 16 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "dac16-rc"
    description: ClassVar[str] = "DAC 16 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE


@register_codec
class Dac24(_Dac24):
    """DAC 24 kHz, codes bit-packed."""

    name: ClassVar[str] = "dac24"
    description: ClassVar[str] = (
        "DAC 24 kHz mono (transformers), 1-32 codebooks bit-packed at 10 bits"
    )


@register_codec
class Dac24Rc(_Dac24):
    """DAC 24 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "dac24-rc"
    description: ClassVar[str] = "DAC 24 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE


@register_codec
class Dac44(_Dac44):
    """DAC 44.1 kHz, codes bit-packed."""

    name: ClassVar[str] = "dac44"
    description: ClassVar[str] = (
        "DAC 44.1 kHz mono (transformers), 1-9 codebooks bit-packed at 10 bits"
    )


@register_codec
class Dac44Rc(_Dac44):
    """DAC 44.1 kHz, codes range-coded with an adaptive model."""

    name: ClassVar[str] = "dac44-rc"
    description: ClassVar[str] = "DAC 44.1 kHz mono, codes range-coded (adaptive model)"
    mode: ClassVar[int] = bitstream.MODE_RANGE
