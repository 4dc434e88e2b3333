"""``NeuralPeer``: what every neural peer adapter (EnCodec, Mimi, DAC, SNAC) shares.

A subclass says which checkpoint it needs (:class:`~bench.codecs.neural.weights.WeightSource`),
its model rate and channels, its codebook size, its operating points (nominal kbps -> codebooks),
and implements four small methods: :meth:`NeuralPeer.load_model`,
:meth:`NeuralPeer.code_shapes`, :meth:`NeuralPeer.encode_codes` and
:meth:`NeuralPeer.decode_codes`. The base class does the rest, the same way for every peer:

- availability: the Python packages (without importing them) and the weights (file system only);
- a per-process model cache; torch runs single-threaded, without gradients;
- resampling to the model's rate and back, with the decoded length fixed by the header;
- mono/stereo: a mono model codes each channel on its own (one code group per channel, so a
  stereo input costs twice the bits); a stereo model (EnCodec 48 kHz) gets a mono input on both
  channels and the decoder returns their mean;
- the bitstream (:mod:`bench.codecs.neural.bitstream`), whose bytes give ``actual_kbps``;
- no delay is added: the models' output is aligned with their input, and the adapter neither
  pads at the start nor shifts (checked by the tests against the model's own output).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.codecs.base import Bitrates, Codec, Encoded
from bench.codecs.neural import bitstream
from bench.codecs.neural.weights import Located, WeightSource, checkpoint_digest, locate
from bench.errors import AudioError, BitstreamError, CodecError, CodecUnavailable

#: Changes when the base class's handling of audio changes (resampling, channels, lengths).
ADAPTER_VERSION = 2
#: The extra that installs what the peers need.
EXTRA = "neural"

_models: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def missing_packages(names: Sequence[str]) -> list[str]:
    """The packages of ``names`` that are not installed (looked up without importing them)."""
    return [name for name in names if importlib.util.find_spec(name) is None]


def require(names: Sequence[str], what: str) -> None:
    """Raise :class:`CodecUnavailable` naming the extra when a package of ``names`` is missing."""
    missing = missing_packages(names)
    if missing:
        raise CodecUnavailable(
            f"{what} needs {', '.join(missing)}: pip install -e '.[{EXTRA}]' "
            "(with -c constraints.txt)"
        )


def torch_setup() -> Any:
    """Import torch for inference: one thread (results must not depend on the core count),
    no gradients. Returns the module."""
    require(["torch"], "a neural peer")
    # Hugging Face libraries must never reach the network from here.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Loading progress bars would flood the runner's log (one per worker and checkpoint).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    return torch


class NeuralPeer(Codec):
    """Base class of the neural peer adapters (see the module docstring)."""

    #: Bitstream codec id, unique among peers (and distinct for each model rate).
    codec_id: ClassVar[int] = 0
    #: The checkpoint this codec runs.
    weights: ClassVar[WeightSource]
    #: The model's sample rate and channels (1 or 2).
    model_rate: ClassVar[int] = 24000
    model_channels: ClassVar[int] = 1
    #: Entries of each codebook.
    codebook_size: ClassVar[int] = 1024
    #: Nominal kbps -> codebooks used, for each real operating point.
    points: ClassVar[dict[float, int]] = {}
    #: Bitstream mode (packed, or range-coded for the ``-rc`` names).
    mode: ClassVar[int] = bitstream.MODE_PACKED
    #: Python packages the adapter imports.
    requires: ClassVar[tuple[str, ...]] = ("torch", "transformers")

    max_channels: ClassVar[int] = 2
    backend: ClassVar[str] = "torch"
    neural: ClassVar[bool] = True
    lag_tolerance: ClassVar[int] = 0
    #: Reported, not checked: the header and side information add to the codes' nominal rate,
    #: and a range-coded stream spends what its content needs.
    rate_tolerance: ClassVar[float | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.points:
            ladder = tuple(sorted(cls.points))
            cls.bitrates = Bitrates(ladder=ladder, allowed=ladder)
            cls.native_rates = (cls.model_rate,)

    # -- to implement ---------------------------------------------------------------------------
    @abstractmethod
    def load_model(self, folder: Path) -> Any:
        """Load the checkpoint in ``folder`` for inference (no network: ``local_files_only``)."""

    @abstractmethod
    def code_shapes(self, model: Any, samples: int, n_codebooks: int) -> list[tuple[int, int]]:
        """``(codebooks, frames)`` of each code group :meth:`encode_codes` returns for one
        channel of ``samples`` samples at the model rate."""

    @abstractmethod
    def encode_codes(
        self, model: Any, signal: np.ndarray, n_codebooks: int
    ) -> tuple[list[np.ndarray], bytes]:
        """Code ``signal`` ``(model_channels, samples)`` at the model rate: the code groups
        (each ``(codebooks, frames)``) and the side information bytes."""

    @abstractmethod
    def decode_codes(
        self, model: Any, groups: list[np.ndarray], side: bytes, samples: int
    ) -> np.ndarray:
        """Audio ``(model_channels, >= samples)`` at the model rate from the code groups and
        side information of one coded signal. Raise :class:`BitstreamError` on bad side info."""

    # -- weights and model ----------------------------------------------------------------------
    def locate_weights(self) -> Located:
        """Where the weights were found (or every place looked in)."""
        return locate(self.weights)

    def model(self) -> tuple[Any, Path]:
        """The loaded model (cached per process) and its folder."""
        require(self.requires, self.name)
        located = self.locate_weights()
        if located.path is None:
            raise CodecUnavailable(f"{self.name}: {located.reason()}")
        torch_setup()
        key = (type(self).__name__, self.weights.repo, str(located.path))
        with _lock:
            if key not in _models:
                if "transformers" in self.requires:
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                    hf_logging.set_verbosity_error()
                try:
                    model = self.load_model(located.path)
                except (OSError, ValueError, RuntimeError, KeyError) as exc:
                    raise CodecUnavailable(
                        f"{self.name}: cannot load the weights in {located.path}: {exc}"
                    ) from None
                model.eval()
                for parameter in model.parameters():
                    parameter.requires_grad_(False)
                _models[key] = model
            return _models[key], located.path

    def model_tag(self, folder: Path) -> int:
        """The 32-bit tag of the checkpoint written in every header."""
        return int(checkpoint_digest(folder, self.weights)[:8], 16)

    # -- Codec API ------------------------------------------------------------------------------
    def availability(self) -> tuple[bool, str]:
        missing = missing_packages(self.requires)
        if self.mode == bitstream.MODE_RANGE:
            missing += missing_packages(["constriction"])
        located = self.locate_weights()
        if missing:
            why = f"missing Python package(s) {', '.join(missing)}: pip install -e '.[{EXTRA}]'"
            # Say where the weights would be looked for too, so one fix does not reveal another.
            return False, why + ("" if located.found else f"; and {located.reason()}")
        if not located.found:
            return False, located.reason()
        return True, ""

    def version(self) -> str:
        from bench.metrics.base import distribution_version as version

        located = self.locate_weights()
        digest = checkpoint_digest(located.path, self.weights)[:12] if located.path else "none"
        libs = " ".join(f"{name} {version(name)}" for name in (*self.requires, "constriction")
                        if importlib.util.find_spec(name) is not None)  # fmt: skip
        return (
            f"adapter{ADAPTER_VERSION}-{type(self).__name__} format{bitstream.FORMAT_VERSION} "
            f"mode{self.mode} weights:{digest} {libs}"
        )

    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        self.check_input(audio, kbps)
        assert kbps is not None  # check_input refused None (the ladder is not lossless)
        n_codebooks = self.points[min(self.points, key=lambda k: abs(k - kbps))]
        model, folder = self.model()
        torch = torch_setup()
        if audio.rate > bitstream.MAX_RATE or audio.frames > bitstream.MAX_LENGTH:
            raise AudioError(f"{self.name}: input beyond the header's limits")
        samples = bitstream.samples_at_rate(audio.rate, audio.frames, self.model_rate)
        if samples < 1:
            raise AudioError(
                f"{self.name}: {audio.frames} sample(s) at {audio.rate} Hz is shorter than one "
                f"sample at {self.model_rate} Hz"
            )
        # soxr's own rounding of the resampled length may differ by a sample from the length the
        # decoder derives from the header; the header's rule wins.
        native = audio.resample(self.model_rate).with_frames(samples).samples
        if self.model_channels == 2:
            signals = [np.repeat(native, 2, axis=0) if audio.channels == 1 else native]
        else:
            signals = [native[c : c + 1] for c in range(audio.channels)]
        groups: list[np.ndarray] = []
        side = b""
        with torch.inference_mode():
            for signal in signals:
                coded, extra = self.encode_codes(model, np.ascontiguousarray(signal), n_codebooks)
                groups += coded
                side += extra
        data = bitstream.write(
            codec_id=self.codec_id, mode=self.mode, model_tag=self.model_tag(folder),
            rate=audio.rate, length=audio.frames, channels=audio.channels,
            n_codebooks=n_codebooks, codebook_size=self.codebook_size, groups=groups, side=side,
        )  # fmt: skip
        overhead = (
            bitstream.HEADER_BYTES + bitstream.GROUP_BYTES * len(groups) + bitstream.CRC_BYTES
        )
        frames = sum(g.shape[1] for g in groups)
        return Encoded(
            data=data,
            payload_bytes=len(data),
            duration_s=audio.duration,
            target_kbps=kbps,
            params={
                "mode": bitstream.MODES[self.mode],
                "codebooks": n_codebooks,
                "codebook_size": self.codebook_size,
                "code_groups": len(groups),
                "code_frames": frames,
                "nominal_kbps": kbps,
                "header_bytes": overhead - bitstream.CRC_BYTES,
                "checksum_bytes": bitstream.CRC_BYTES,
                "side_info_bytes": len(side),
                "code_bytes": len(data) - overhead - len(side),
                "native_rate": self.model_rate,
            },
        )

    def decode(self, data: bytes) -> Audio:
        header = bitstream.read_header(data)
        if header.codec_id != self.codec_id:
            raise BitstreamError(
                f"{self.name}: bitstream of codec id {header.codec_id}, this codec reads "
                f"{self.codec_id}"
            )
        if header.mode != self.mode:
            raise BitstreamError(
                f"{self.name}: bitstream mode {bitstream.MODES[header.mode]}, this codec writes "
                f"{bitstream.MODES[self.mode]}"
            )
        if header.n_codebooks not in self.points.values():
            raise BitstreamError(
                f"{self.name}: {header.n_codebooks} codebooks is not an operating point"
            )
        model, folder = self.model()
        if header.model_tag != self.model_tag(folder):
            raise BitstreamError(
                f"{self.name}: bitstream made with other weights (tag {header.model_tag:08x}, "
                f"installed {self.model_tag(folder):08x})"
            )
        samples = bitstream.samples_at_rate(header.rate, header.length, self.model_rate)
        if samples < 1:
            raise BitstreamError(f"{self.name}: length below one sample at the model rate")
        per_signal = self.code_shapes(model, samples, header.n_codebooks)
        coded_signals = header.channels if self.model_channels == 1 else 1
        expected = tuple(per_signal * coded_signals)
        if header.groups != expected:
            raise BitstreamError(
                f"{self.name}: {header.length} samples at {header.rate} Hz need code groups "
                f"{list(expected)}, the stream declares {list(header.groups)}"
            )
        groups = bitstream.read_codes(data, header, self.codebook_size)
        side = bitstream.side_information(data, header)
        if len(side) % coded_signals:
            raise BitstreamError(f"{self.name}: side information does not split by channel")
        share = len(side) // coded_signals
        torch = torch_setup()
        outputs = []
        with torch.inference_mode():
            for i in range(coded_signals):
                mine = groups[i * len(per_signal) : (i + 1) * len(per_signal)]
                out = self.decode_codes(model, mine, side[i * share : (i + 1) * share], samples)
                if out.shape[-1] < samples:
                    raise CodecError(f"{self.name}: model decoded {out.shape[-1]} < {samples}")
                outputs.append(np.asarray(out, dtype=np.float32)[:, :samples])
        decoded = np.concatenate(outputs, axis=0)
        if self.model_channels == 2 and header.channels == 1:
            decoded = decoded.mean(axis=0, keepdims=True)
        try:
            return Audio(decoded, self.model_rate).resample(header.rate).with_frames(header.length)
        except AudioError as exc:
            raise CodecError(f"{self.name}: cannot return to {header.rate} Hz: {exc}") from None

    def info(self) -> dict[str, Any]:
        info = super().info()
        located = self.locate_weights()
        info["weights"] = {
            "repo": self.weights.repo,
            "found": str(located.path) if located.path else None,
            "looked_in": list(located.looked),
        }
        return info
