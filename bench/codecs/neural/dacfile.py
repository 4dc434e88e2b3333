"""DAC's own ``compress`` / ``.dac`` file path, reproduced on a transformers ``DacModel``.

descript-audio-codec cannot be installed here (it requires descript-audiotools and torchaudio),
so this module reproduces, on the same weights, what ``DAC.compress`` / ``DACFile.save`` and
``DACFile.load`` / ``DAC.decompress`` of descript-audio-codec 1.0.0 do (``dac/model/base.py``):

- ``compress``: resample to the model rate, measure the integrated loudness (ITU-R BS.1770-4,
  audiotools' ``Meter``), normalise to -16 LUFS, scale each channel's peak to at most 1, fold
  the channels into the batch, then either encode the whole signal (when it is at most
  ``win_duration`` long: convolution padding on) or, for longer signals, turn the model's
  convolution padding off, zero-pad the signal by the model's delay on both sides and encode
  windows of ``ceil(win_duration * rate / hop) * hop`` samples that advance by the model's
  unpadded output length; each window gives ``chunk_length`` frames of codes.
- ``DACFile.save``: ``np.save`` of the dict ``{"codes": uint16 array (channels, n_q, frames),
  "metadata": {"input_db", "original_length", "sample_rate", "chunk_length", "channels",
  "padding", "dac_version"}}`` (a pickled object array), i.e. 16 bits per 10-bit code plus the
  pickle and ``.npy`` header, and the windows' overlap: the reasons a ``.dac`` file costs more
  than the nominal rate (descript-audio-codec issue 73).
- ``decompress``: decode each ``chunk_length`` run of codes, normalise the result back to
  ``input_db``, resample to the input's rate and cut to ``original_length``.

Differences from the package, none of which changes the file's size: resampling uses the
suite's resampler (soxr) instead of julius, and the K-weighting filters run in float64 scipy
instead of torchaudio's float32 ``lfilter``.
"""

from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.codecs import register_codec
from bench.codecs.base import Encoded
from bench.codecs.neural import bitstream
from bench.codecs.neural.base import torch_setup
from bench.codecs.neural.dac import _Dac16, _Dac24, _Dac44
from bench.errors import AudioError, BitstreamError, CodecError

#: ``SUPPORTED_VERSIONS[-1]`` of descript-audio-codec 1.0.0 (dac/model/base.py).
DAC_FILE_VERSION = "1.0.0"
#: ``CodecMixin.compress`` defaults (dac/model/base.py): 1-s windows, -16 LUFS.
WIN_DURATION_S = 1.0
NORMALIZE_DB = -16.0
#: audiotools ``LoudnessMixin.MIN_LOUDNESS``: the floor of a measured loudness.
MIN_LOUDNESS = -70.0
#: Channel weights of BS.1770 (audiotools ``Meter.G``).
_CHANNEL_GAINS = np.array([1.0, 1.0, 1.0, 1.41, 1.41])


# -- BS.1770-4 integrated loudness, as audiotools' Meter (a port of pyloudnorm) ----------------
def _k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """pyloudnorm's K-weighting: RBJ high shelf (+4 dB, 1500 Hz) then high pass (38 Hz)."""
    stages = []
    for kind, gain_db, q, fc in (
        ("high_shelf", 4.0, 1 / np.sqrt(2), 1500.0),
        ("high_pass", 0.0, 0.5, 38.0),
    ):
        big_a = 10 ** (gain_db / 40.0)
        w0 = 2.0 * np.pi * (fc / rate)
        alpha = np.sin(w0) / (2.0 * q)
        cos, root = np.cos(w0), np.sqrt(big_a)
        if kind == "high_shelf":
            b = [
                big_a * ((big_a + 1) + (big_a - 1) * cos + 2 * root * alpha),
                -2 * big_a * ((big_a - 1) + (big_a + 1) * cos),
                big_a * ((big_a + 1) + (big_a - 1) * cos - 2 * root * alpha),
            ]
            a = [
                (big_a + 1) - (big_a - 1) * cos + 2 * root * alpha,
                2 * ((big_a - 1) - (big_a + 1) * cos),
                (big_a + 1) - (big_a - 1) * cos - 2 * root * alpha,
            ]
        else:
            b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
            a = [1 + alpha, -2 * cos, 1 - alpha]
        stages.append((np.array(b) / a[0], np.array(a) / a[0]))
    return stages


def loudness(samples: np.ndarray, rate: int) -> float:
    """Integrated loudness (LUFS) of ``samples`` ``(channels, frames)``, as audiotools measures it.

    Shorter than 0.5 s: zero-padded to 0.5 s; 400-ms blocks with 75 % overlap, the last one
    zero-padded (julius ``unfold``); absolute gate -70 LUFS, relative gate -10 LU; floored at
    :data:`MIN_LOUDNESS`.
    """
    from scipy.signal import lfilter

    data = np.asarray(samples, dtype=np.float64)
    channels, frames = data.shape
    if frames < int(0.5 * rate):
        data = np.pad(data, ((0, 0), (0, int(0.5 * rate) - frames)))
    for b, a in _k_weighting(rate):
        data = lfilter(b, a, data, axis=-1)
    kernel, stride = int(0.4 * rate), int(0.4 * rate * 0.25)
    length = data.shape[-1]
    n_blocks = math.ceil((max(length, kernel) - kernel) / stride) + 1
    data = np.pad(data, ((0, 0), (0, (n_blocks - 1) * stride + kernel - length)))
    starts = np.arange(n_blocks) * stride
    power = np.stack([np.square(data[:, s : s + kernel]).sum(axis=-1) for s in starts], axis=-1) / (
        0.4 * rate
    )  # (channels, blocks)
    gains = _CHANNEL_GAINS[:channels, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10((gains * power).sum(axis=0))
        above = block_lufs > -70.0
        mean = power[:, above].sum(axis=-1) / above.sum()
        relative = -0.691 + 10.0 * np.log10((gains[:, 0] * mean).sum()) - 10.0
        gated = above & (block_lufs > relative)
        mean = np.nan_to_num(power[:, gated].sum(axis=-1) / gated.sum(), nan=0.0)
        lufs = -0.691 + 10.0 * np.log10((gains[:, 0] * mean).sum())
    return float(np.maximum(lufs, MIN_LOUDNESS))


# -- the model's geometry without convolution padding (CodecMixin.get_delay/get_output_length) --
def _convs(model: Any) -> list[Any]:
    import torch

    kinds = (torch.nn.Conv1d, torch.nn.ConvTranspose1d)
    return [m for m in model.modules() if isinstance(m, kinds)]


def output_length(model: Any, input_length: int, part: Any = None) -> int:
    """Samples out of encoder + decoder (or of ``part``, e.g. ``model.encoder``: frames) for
    ``input_length`` samples in, padding off."""
    import torch

    length: float = input_length
    for layer in _convs(model if part is None else part):
        d, k, s = layer.dilation[0], layer.kernel_size[0], layer.stride[0]
        if isinstance(layer, torch.nn.ConvTranspose1d):
            length = (length - 1) * s + d * (k - 1) + 1
        else:
            length = ((length - d * (k - 1) - 1) / s) + 1
        length = math.floor(length)
    return int(length)


def delay(model: Any) -> int:
    """Samples the unpadded model loses on each side (``CodecMixin.get_delay``)."""
    import torch

    length: float = output_length(model, 0)
    out = length
    for layer in reversed(_convs(model)):
        d, k, s = layer.dilation[0], layer.kernel_size[0], layer.stride[0]
        if isinstance(layer, torch.nn.ConvTranspose1d):
            length = ((length - d * (k - 1) - 1) / s) + 1
        else:
            length = (length - 1) * s + d * (k - 1) + 1
        length = math.ceil(length)
    return int((length - out) // 2)


class _Unpadded:
    """Context: every convolution of ``model`` with padding 0 (``CodecMixin.padding = False``)."""

    def __init__(self, model: Any, off: bool) -> None:
        self.layers = _convs(model) if off else []
        self.saved: list[Any] = []

    def __enter__(self) -> None:
        self.saved = [layer.padding for layer in self.layers]
        for layer in self.layers:
            layer.padding = tuple(0 for _ in layer.padding)

    def __exit__(self, *exc: object) -> None:
        for layer, padding in zip(self.layers, self.saved, strict=True):
            layer.padding = padding


# -- the file ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DacFile:
    """The content of a ``.dac`` file (``DACFile`` of descript-audio-codec 1.0.0)."""

    codes: np.ndarray  # (channels, n_q, frames) integer codes
    chunk_length: int
    original_length: int
    input_db: np.ndarray  # float32, one value per batch item (here always one)
    channels: int
    sample_rate: int
    padding: bool

    def to_bytes(self) -> bytes:
        """``DACFile.save``: ``np.save`` of the artifacts dict, byte for byte."""
        artifacts = {
            "codes": self.codes.astype(np.uint16),
            "metadata": {
                "input_db": self.input_db.astype(np.float32),
                "original_length": int(self.original_length),
                "sample_rate": int(self.sample_rate),
                "chunk_length": int(self.chunk_length),
                "channels": int(self.channels),
                "padding": bool(self.padding),
                "dac_version": DAC_FILE_VERSION,
            },
        }
        buffer = io.BytesIO()
        np.save(buffer, artifacts)  # a 0-d object array: np.save pickles it (protocol 3)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> DacFile:
        """``DACFile.load`` without ``allow_pickle``'s arbitrary code: only numpy arrays and
        plain values may be unpickled, and every field is checked. Bad data: BitstreamError."""
        artifacts = _load_npy_object(data)
        try:
            codes = artifacts["codes"]
            meta = artifacts["metadata"]
            fields = {
                key: meta[key]
                for key in (
                    "input_db",
                    "original_length",
                    "sample_rate",
                    "chunk_length",
                    "channels",
                    "padding",
                )
            }
            version = meta.get("dac_version")
        except (KeyError, TypeError, AttributeError) as exc:
            raise BitstreamError(f".dac file: missing field ({exc})") from None
        if version != DAC_FILE_VERSION:
            raise BitstreamError(f".dac file: unsupported dac_version {version!r}")
        if not (isinstance(codes, np.ndarray) and codes.dtype == np.uint16 and codes.ndim == 3):
            raise BitstreamError(".dac file: codes must be a 3-D uint16 array")
        input_db = fields["input_db"]
        if not (
            isinstance(input_db, np.ndarray)
            and input_db.dtype == np.float32
            and input_db.size >= 1
            and np.all(np.isfinite(input_db))
        ):
            raise BitstreamError(".dac file: input_db must be finite float32 values")
        ints = ("original_length", "sample_rate", "chunk_length", "channels")
        if any(type(fields[k]) is not int or fields[k] <= 0 for k in ints):
            raise BitstreamError(f".dac file: {', '.join(ints)} must be positive integers")
        if type(fields["padding"]) is not bool:
            raise BitstreamError(".dac file: padding must be a bool")
        if codes.shape[0] != fields["channels"] * input_db.size:
            raise BitstreamError(".dac file: codes do not match the channel count")
        if codes.shape[2] % fields["chunk_length"] or codes.shape[1] < 1:
            raise BitstreamError(".dac file: codes are not whole chunks")
        return cls(codes=codes, **fields)


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles what ``np.save`` writes for a dict of arrays and plain values, nothing else."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise BitstreamError(f".dac file: refuses to unpickle {module}.{name}")
        return super().find_class(module, name)


def _load_npy_object(data: bytes) -> dict[str, Any]:
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version != (1, 0):
            raise ValueError(f"npy version {version}")
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        if shape != () or dtype != np.dtype(object):
            raise ValueError("not a pickled object")
        value = _SafeUnpickler(stream).load()
    except BitstreamError:
        raise
    except Exception as exc:  # any malformed header or pickle
        raise BitstreamError(f".dac file: unreadable ({type(exc).__name__}: {exc})") from None
    if stream.read(1):
        raise BitstreamError(".dac file: trailing bytes")
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype == object:
        value = value[()]
    if not isinstance(value, dict):
        raise BitstreamError(".dac file: not a dict of artifacts")
    return value


# -- compress / decompress --------------------------------------------------------------------
def compress(
    model: Any,
    samples: np.ndarray,
    original_rate: int,
    original_length: int,
    n_quantizers: int,
    win_duration: float = WIN_DURATION_S,
) -> DacFile:
    """``DAC.compress`` on ``samples`` ``(channels, frames)``, already at the model rate."""
    import torch

    rate = int(model.config.sampling_rate)
    hop_length = int(np.prod(model.config.downsampling_ratios))
    x = np.asarray(samples, dtype=np.float32)
    input_db = np.array([loudness(x, rate)], dtype=np.float32)
    x = x * np.float32(np.exp((NORMALIZE_DB - input_db[0]) * np.log(10) / 20))
    peak = np.abs(x).max(axis=-1, keepdims=True)
    x = np.where(peak > 1.0, x / np.maximum(peak, 1e-30), x).astype(np.float32)
    channels, nt = x.shape
    signal = torch.from_numpy(x).reshape(channels, 1, nt)
    if nt / rate <= win_duration:
        padding, n_samples, step = True, nt, nt
    else:
        padding = False
        pad = delay(model)
        signal = torch.nn.functional.pad(signal, (pad, pad))
        n_samples = int(math.ceil(int(win_duration * rate) / hop_length) * hop_length)
        step = output_length(model, n_samples)
    chunks = []
    with torch.inference_mode(), _Unpadded(model, off=not padding):
        for start in range(0, nt, step):
            chunk = signal[..., start : start + n_samples]
            chunk = torch.nn.functional.pad(chunk, (0, max(0, n_samples - chunk.shape[-1])))
            right = math.ceil(chunk.shape[-1] / hop_length) * hop_length - chunk.shape[-1]
            chunk = torch.nn.functional.pad(chunk, (0, right))  # DAC.preprocess
            codes = model.encode(chunk, n_quantizers=n_quantizers, return_dict=True).audio_codes
            chunks.append(codes)
    codes = torch.cat(chunks, dim=-1).numpy()
    return DacFile(
        codes=codes,
        chunk_length=int(chunks[-1].shape[-1]),
        original_length=int(original_length),
        input_db=input_db,
        channels=channels,
        sample_rate=int(original_rate),
        padding=padding,
    )


def decompress(model: Any, file: DacFile) -> np.ndarray:
    """``DAC.decompress`` up to the resampling: ``(channels, samples)`` at the model rate,
    loudness restored; the caller resamples to ``file.sample_rate`` and cuts to length."""
    import torch

    codes = torch.from_numpy(file.codes.astype(np.int64))
    pieces = []
    with torch.inference_mode(), _Unpadded(model, off=not file.padding):
        for start in range(0, codes.shape[-1], file.chunk_length):
            chunk = codes[..., start : start + file.chunk_length]
            pieces.append(model.decode(audio_codes=chunk, return_dict=True).audio_values)
    audio = torch.cat(pieces, dim=-1).reshape(codes.shape[0], -1).numpy().astype(np.float64)
    rate = int(model.config.sampling_rate)
    # decompress normalises each batch item (each channel) to the stored input loudness.
    for row in range(audio.shape[0]):
        gain = float(file.input_db[0]) - loudness(audio[row : row + 1], rate)
        audio[row] *= np.exp(gain * np.log(10) / 20)
    return audio.astype(np.float32)


# -- the codecs -------------------------------------------------------------------------------
class _DacFileMixin:
    """``dacNN-file``: DAC's own ``compress`` and ``.dac`` file; the file is the bitstream."""

    #: Window of the chunked compression (``compress``'s default; the ``python -m dac encode``
    #: command line passes 5 s).
    win_duration: ClassVar[float] = WIN_DURATION_S

    def version(self) -> str:
        return f"{super().version()} dacfile{DAC_FILE_VERSION} win{self.win_duration:g}"  # type: ignore[misc]

    def window(self, model: Any) -> tuple[int, int, int]:
        """(window samples, step samples, code frames per window) of the chunked path."""
        hop = int(np.prod(model.config.downsampling_ratios))
        rate = int(model.config.sampling_rate)
        n_samples = int(math.ceil(int(self.win_duration * rate) / hop) * hop)
        return (
            n_samples,
            output_length(model, n_samples),
            output_length(model, n_samples, model.encoder),
        )

    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        self.check_input(audio, kbps)  # type: ignore[attr-defined]
        assert kbps is not None
        points: dict[float, int] = self.points  # type: ignore[attr-defined]
        n_codebooks = points[min(points, key=lambda k: abs(k - kbps))]
        model, _ = self.model()  # type: ignore[attr-defined]
        torch_setup()
        rate: int = self.model_rate  # type: ignore[attr-defined]
        if audio.rate > bitstream.MAX_RATE or audio.frames > bitstream.MAX_LENGTH:
            raise AudioError(f"{self.name}: input beyond the supported limits")  # type: ignore[attr-defined]
        samples = bitstream.samples_at_rate(audio.rate, audio.frames, rate)
        if samples < 1:
            raise AudioError(
                f"{self.name}: {audio.frames} sample(s) at {audio.rate} Hz is shorter than one "  # type: ignore[attr-defined]
                f"sample at {rate} Hz"
            )
        native = audio.resample(rate).with_frames(samples).samples
        dac_file = compress(model, native, audio.rate, audio.frames, n_codebooks, self.win_duration)
        data = dac_file.to_bytes()
        code_bytes = 2 * dac_file.codes.size
        return Encoded(
            data=data,
            payload_bytes=len(data),
            duration_s=audio.duration,
            target_kbps=kbps,
            params={
                "codebooks": n_codebooks,
                "nominal_kbps": kbps,
                "padding": dac_file.padding,
                "chunk_length": dac_file.chunk_length,
                "code_frames": int(dac_file.codes.shape[-1]),
                "code_bytes": code_bytes,
                "file_overhead_bytes": len(data) - code_bytes,
                "window_s": self.win_duration,
                "model_rate": rate,
            },
        )

    def decode(self, data: bytes) -> Audio:
        dac_file = DacFile.from_bytes(bytes(data))
        name = self.name  # type: ignore[attr-defined]
        points: dict[float, int] = self.points  # type: ignore[attr-defined]
        channels, n_q, frames = dac_file.codes.shape
        if n_q not in points.values() or channels > self.max_channels:  # type: ignore[attr-defined]
            raise BitstreamError(f"{name}: {channels} channel(s) of {n_q} codebooks is not valid")
        if dac_file.input_db.size != 1 or dac_file.sample_rate > bitstream.MAX_RATE:
            raise BitstreamError(f"{name}: .dac metadata out of range")
        if dac_file.codes.max() >= self.codebook_size:  # type: ignore[attr-defined]
            raise BitstreamError(f"{name}: code beyond the codebook size")
        model, _ = self.model()  # type: ignore[attr-defined]
        torch_setup()
        rate: int = self.model_rate  # type: ignore[attr-defined]
        samples = bitstream.samples_at_rate(dac_file.sample_rate, dac_file.original_length, rate)
        hop = int(np.prod(model.config.downsampling_ratios))
        # The codes must be exactly what compress writes for the stated length, so the length
        # (and what decoding allocates) is bounded by the data, not by the metadata.
        if dac_file.padding:
            per_chunk, chunks = math.ceil(samples / hop), 1
        else:
            _, step, per_chunk = self.window(model)
            chunks = math.ceil(samples / step)
        if dac_file.chunk_length != per_chunk or frames != per_chunk * chunks:
            raise BitstreamError(
                f"{name}: {frames} code frames in chunks of {dac_file.chunk_length} do not code "
                f"{dac_file.original_length} samples at {dac_file.sample_rate} Hz"
            )
        decoded = decompress(model, dac_file)
        if decoded.shape[-1] < samples:
            # DAC's own decompress fails here too: unchunked, the 16 and 24 kHz decoders give
            # 8 samples fewer than the whole hops the file codes (see dac.decoded_length).
            raise CodecError(
                f"{name}: DAC's decompress gives {decoded.shape[-1]} samples for this file, "
                f"fewer than the {samples} it codes"
            )
        try:
            out = Audio(decoded[:, :samples], rate).resample(dac_file.sample_rate)
            return out.with_frames(dac_file.original_length)
        except AudioError as exc:
            raise CodecError(f"{name}: cannot return to {dac_file.sample_rate} Hz: {exc}") from None


@register_codec
class Dac16File(_DacFileMixin, _Dac16):
    """DAC 16 kHz through DAC's own compress and .dac file."""

    name: ClassVar[str] = "dac16-file"
    description: ClassVar[str] = (
        "DAC 16 kHz through its own compress/.dac file (uint16 codes, 1-s windows)"
    )


@register_codec
class Dac24File(_DacFileMixin, _Dac24):
    """DAC 24 kHz through DAC's own compress and .dac file."""

    name: ClassVar[str] = "dac24-file"
    description: ClassVar[str] = (
        "DAC 24 kHz through its own compress/.dac file (uint16 codes, 1-s windows)"
    )


@register_codec
class Dac44File(_DacFileMixin, _Dac44):
    """DAC 44.1 kHz through DAC's own compress and .dac file."""

    name: ClassVar[str] = "dac44-file"
    description: ClassVar[str] = (
        "DAC 44.1 kHz through its own compress/.dac file (uint16 codes, 1-s windows)"
    )
