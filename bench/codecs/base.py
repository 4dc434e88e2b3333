"""The codec interface: audio to bytes, bytes to audio, and nothing the bytes do not carry.

A codec adapter subclasses :class:`Codec`. ``encode`` takes an :class:`~bench.audio.Audio` at
any rate and a target bitrate and returns an :class:`Encoded` whose ``data`` is the complete
bitstream; ``decode`` takes those bytes alone and returns audio at the input's rate and length,
with the codec's delay removed. The suite measures the bitrate from the bytes, never from the
asked value.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.audio import Audio
from bench.errors import AudioError, CodecError, UnsupportedBitrate


@dataclass(frozen=True)
class Bitrates:
    """The bitrates (kbps) a codec accepts and the ladder the runner sweeps by default.

    ``allowed`` lists discrete values (modes, CBR steps); without it any value in
    ``[low, high]`` is accepted. A lossless codec has an empty ladder and takes ``kbps=None``.
    """

    ladder: tuple[float, ...]
    allowed: tuple[float, ...] | None = None
    low: float | None = None
    high: float | None = None

    @property
    def lossless(self) -> bool:
        """True for codecs that take no bitrate."""
        return not self.ladder and self.allowed is None and self.low is None

    def accepts(self, kbps: float | None) -> bool:
        """Whether ``kbps`` is a bitrate this codec can be asked for."""
        if self.lossless:
            return kbps is None
        if kbps is None or not isinstance(kbps, (int, float)) or not math.isfinite(kbps):
            return False
        if self.allowed is not None:
            return any(abs(kbps - value) < 1e-6 for value in self.allowed)
        low = self.low if self.low is not None else 0.0
        high = self.high if self.high is not None else math.inf
        return low - 1e-9 <= kbps <= high + 1e-9

    def describe(self) -> str:
        """Human-readable summary, e.g. ``"6-510 kbps"`` or ``"one of 4.75, 5.15, ..."``."""
        if self.lossless:
            return "lossless (no bitrate)"
        if self.allowed is not None:
            return "one of " + ", ".join(_fmt(v) for v in self.allowed) + " kbps"
        return f"{_fmt(self.low or 0)}-{_fmt(self.high or math.inf)} kbps"

    def check(self, codec: str, kbps: float | None) -> None:
        """Raise :class:`UnsupportedBitrate` unless ``kbps`` is accepted."""
        if not self.accepts(kbps):
            asked = "no bitrate" if kbps is None else f"{_fmt(kbps)} kbps"
            raise UnsupportedBitrate(
                f"{codec} cannot encode at {asked}; supported: {self.describe()}"
            )


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Encoded:
    """The result of an encode: the bytes and how they are counted.

    ``data`` is everything ``decode`` needs. ``payload_bytes`` counts the codec's own packets,
    the bits that cross the channel; ``header_bytes`` counts out-of-band decoder configuration
    (e.g. Vorbis codebooks, the AAC AudioSpecificConfig), and ``container_bytes`` the whole of
    ``data`` when a container or envelope wraps the packets (``None`` when ``data`` is the raw
    bitstream). ``actual_kbps`` is computed from ``payload_bytes`` and the input's duration.
    """

    data: bytes
    payload_bytes: int
    duration_s: float
    target_kbps: float | None
    header_bytes: int = 0
    container_bytes: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.data, (bytes, bytearray)):
            raise CodecError(f"encoded data must be bytes, got {type(self.data).__name__}")
        if self.payload_bytes < 0 or self.payload_bytes > len(self.data):
            raise CodecError(
                f"payload_bytes={self.payload_bytes} must be within 0..len(data)={len(self.data)}"
            )
        if not (self.duration_s > 0 and math.isfinite(self.duration_s)):
            raise CodecError(f"duration must be positive, got {self.duration_s}")

    @property
    def actual_kbps(self) -> float:
        """Measured bitrate: ``8 * payload_bytes / duration / 1000``."""
        return 8.0 * self.payload_bytes / self.duration_s / 1000.0

    @property
    def total_kbps(self) -> float:
        """Bitrate of everything in ``data``, container and headers included."""
        return 8.0 * len(self.data) / self.duration_s / 1000.0


class Codec(ABC):
    """Base class of every codec adapter.

    Subclasses set the class attributes (or, for one class serving several codecs, the same
    names on the instance) and implement :meth:`encode` and :meth:`decode`. :meth:`roundtrip`
    is the checked path the suite uses.
    """

    #: Registry name, e.g. ``"opus"``.
    name: str = ""
    #: One line for ``--list``.
    description: str = ""
    #: Rates the codec itself runs at; ``()`` means any rate.
    native_rates: tuple[int, ...] = ()
    #: Channels the codec encodes; input with more channels is refused.
    max_channels: int = 1
    #: Accepted bitrates and default ladder.
    bitrates: Bitrates = Bitrates(ladder=())
    #: Relative tolerance of measured vs. target bitrate for constant-rate codecs; ``None`` for
    #: variable-rate and lossless codecs (their measured rate is reported, not checked).
    rate_tolerance: float | None = None
    #: Lag (samples) the decoded signal may keep; 0 for sample-exact decoders.
    lag_tolerance: int = 0
    #: False for parametric vocoders (codec2): the decoded waveform does not follow the
    #: input's, so alignment is checked on the signal envelope, not the waveform.
    waveform: bool = True
    #: For vocoders: tolerance of the speech-envelope lag after delay removal, in seconds.
    envelope_lag_tolerance_s: float = 0.0
    #: ``"speech"`` for codecs designed for speech only, else ``"general"``.
    domain: str = "general"
    #: Where it runs: ``"pyav"``, ``"ffmpeg-cli"``, ``"torch"``, ``"python"``.
    backend: str = "python"
    #: Part of ``--codecs all`` (cross-check variants are not).
    primary: bool = True
    #: A learned (neural) codec: the report matches classic codecs to its operating points.
    neural: bool = False

    # -- to implement -----------------------------------------------------------------------
    @abstractmethod
    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        """Encode ``audio`` aiming at ``kbps``; return the bitstream and its accounting."""

    @abstractmethod
    def decode(self, data: bytes) -> Audio:
        """Decode bytes from :meth:`encode` to audio at the input's rate and length."""

    # -- may override -----------------------------------------------------------------------
    def availability(self) -> tuple[bool, str]:
        """``(True, "")`` when usable here, else ``(False, reason)``. Must not raise."""
        return True, ""

    def version(self) -> str:
        """Everything that changes this codec's output (adapter and library versions)."""
        return "1"

    def ladder(self) -> list[float | None]:
        """The bitrates the runner sweeps by default."""
        if self.bitrates.lossless:
            return [None]
        return list(self.bitrates.ladder)

    # -- provided ---------------------------------------------------------------------------
    @property
    def lossless(self) -> bool:
        """True when the codec takes no bitrate."""
        return self.bitrates.lossless

    def check_input(self, audio: Audio, kbps: float | None) -> None:
        """Refuse input this codec cannot take, with a message that says why."""
        if not isinstance(audio, Audio):
            raise CodecError(f"{self.name}: expected Audio, got {type(audio).__name__}")
        self.bitrates.check(self.name, kbps)
        if audio.channels > self.max_channels:
            raise AudioError(
                f"{self.name} encodes at most {self.max_channels} channel(s); this audio has "
                f"{audio.channels}"
            )

    def roundtrip(self, audio: Audio, kbps: float | None) -> tuple[Encoded, Audio]:
        """Encode then decode, checking that the result has the input's rate and length."""
        self.check_input(audio, kbps)
        encoded = self.encode(audio, kbps)
        decoded = self.decode(encoded.data)
        if decoded.rate != audio.rate or decoded.frames != audio.frames:
            raise CodecError(
                f"{self.name}: decoded {decoded.frames} frames at {decoded.rate} Hz, "
                f"input had {audio.frames} at {audio.rate} Hz"
            )
        if decoded.channels != audio.channels:
            raise CodecError(
                f"{self.name}: decoded {decoded.channels} channel(s), input had {audio.channels}"
            )
        return encoded, decoded

    def info(self) -> dict[str, Any]:
        """Description for ``--list`` and run metadata."""
        ok, reason = self.availability()
        return {
            "name": self.name,
            "description": self.description,
            "backend": self.backend,
            "domain": self.domain,
            "native_rates": list(self.native_rates),
            "max_channels": self.max_channels,
            "bitrates": self.bitrates.describe(),
            "ladder": self.ladder() if ok else list(self.bitrates.ladder),
            "available": ok,
            "reason": reason,
            "primary": self.primary,
            "version": self.version() if ok else None,
        }


def choose_rate(input_rate: int, supported: tuple[int, ...]) -> int:
    """The supported rate to encode at: the input's if supported, else the lowest rate at or
    above it (no band is thrown away), else the highest available."""
    if not supported or input_rate in supported:
        return input_rate
    above = [r for r in supported if r >= input_rate]
    return min(above) if above else max(supported)
