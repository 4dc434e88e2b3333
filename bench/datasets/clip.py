"""One benchmark item: :class:`Clip` (a description, no samples) and how it is prepared.

A clip knows where its audio comes from and what the corpus says about it; :meth:`Clip.load`
reads the audio and prepares it (``--max-seconds`` cut, then the ``--protocol``). Clips are
frozen, hashable and picklable, so the runner can ship them to worker processes and use them as
cache keys. Listing a dataset never opens an audio file; a bad file surfaces only in ``load()``
as an :class:`~bench.errors.AudioError` that names the file and says why.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.audio import Audio
from bench.errors import AudioError

#: What a metadata value may be: a JSON scalar (keeps clips hashable and reports simple).
MetaValue = str | int | float | bool | None

#: The two kinds of content; metrics and reports use it (PESQ/STOI are for speech).
DOMAINS = ("speech", "audio")


class Meta(Mapping[str, MetaValue]):
    """A read-only, hashable, picklable mapping of JSON scalars (a clip's metadata).

    Keys are strings; values are ``str``, ``int``, ``float`` (finite), ``bool`` or ``None``.
    Anything else is refused, so ``dict(meta)`` can always be written to JSON as is.
    """

    __slots__ = ("_data", "_items")

    def __init__(self, data: Mapping[str, Any] | None = None, **extra: Any) -> None:
        merged = {**(dict(data) if data is not None else {}), **extra}
        for key, value in merged.items():
            if not isinstance(key, str):
                raise TypeError(f"metadata key must be a string, got {key!r}")
            if isinstance(value, np.generic):  # numpy scalars from CSV/array code
                value = value.item()
                merged[key] = value
            if value is not None and not isinstance(value, (str, int, float, bool)):
                raise TypeError(
                    f"metadata value for {key!r} must be a JSON scalar, got {type(value).__name__}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"metadata value for {key!r} is not finite: {value!r}")
        self._items = tuple(sorted(merged.items()))
        self._data = dict(self._items)

    def __getitem__(self, key: str) -> MetaValue:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Meta):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Meta({self._data!r})"

    def __reduce__(self) -> tuple[type[Meta], tuple[dict[str, MetaValue]]]:
        return (Meta, (self._data,))

    def updated(self, **changes: Any) -> Meta:
        """A copy with ``changes`` applied."""
        return Meta(self._data, **changes)


# -- preparation protocols --------------------------------------------------------------------
#: The original NAMC note's preparation, reproduced by ``--protocol seed``.
SEED_RATE = 44_100
SEED_FRAMES = 20_500


def _native(audio: Audio) -> Audio:
    return audio


def _seed(audio: Audio) -> Audio:
    """Resample to 44.1 kHz, keep the first 20,500 samples, min-max normalise to [0, 1].

    Why [0, 1] and not [-1, 1]: the note reports SNR 38.07 dB and PSNR 43.65 dB for the same
    signals. With one error, PSNR - SNR = 10*log10(peak^2 / mean power) = 5.58 dB, so the mean
    power was about 0.28 of peak^2. Zero-mean audio scaled to [-1, 1] has a mean power of a few
    percent of peak^2 (a 10-20 dB gap); audio scaled to [0, 1] sits on a DC offset near 0.5 and
    has mean power ~0.25 + variance, which is the 0.28 the numbers imply.

    Shorter clips are kept as they are, not padded (padding with silence would flatter every
    metric). Multi-channel input is averaged to mono first: the note's corpora are mono, so it
    never had to choose; this is our choice. A constant signal cannot be min-max normalised and
    raises :class:`AudioError`.
    """
    audio = audio.mono().resample(SEED_RATE)
    if audio.frames > SEED_FRAMES:
        audio = audio.with_frames(SEED_FRAMES)
    samples = audio.samples.astype(np.float64)
    low, high = float(samples.min()), float(samples.max())
    if not high - low > 1e-7:  # float32 resolution near 1: nothing left to scale
        raise AudioError(
            f"constant signal (every sample is {low:g}) cannot be min-max normalised "
            "(protocol seed)"
        )
    return Audio((samples - low) / (high - low), audio.rate)


@dataclass(frozen=True)
class Protocol:
    """A named preparation applied after reading (and after the ``--max-seconds`` cut)."""

    name: str
    description: str
    apply: Callable[[Audio], Audio] = field(repr=False, compare=False)


PROTOCOLS: dict[str, Protocol] = {
    "native": Protocol("native", "native sample rate and channels, samples as stored", _native),
    "seed": Protocol(
        "seed",
        f"original note's preparation: mono, resample to {SEED_RATE} Hz, first {SEED_FRAMES} "
        "samples, min-max normalised to [0, 1]",
        _seed,
    ),
}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``; an unknown name is a :class:`BenchError` listing the valid."""
    from bench.errors import UnknownNameError

    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}"
        ) from None


# -- the clip ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    """A frozen, hashable, picklable description of one item of a dataset (no samples).

    Attributes:
        dataset: the dataset's name as given on the command line (``esc50``, ``folder``, ...).
        clip_id: stable id within the dataset (ESC-50 file stem, LibriSpeech utterance id,
            relative path for ``folder=``, ``synthetic-...`` for the demo set).
        domain: ``"speech"`` or ``"audio"``.
        path: the audio file, or ``None`` for generated clips.
        meta: corpus metadata (fold, category, speaker, transcript, ...) plus ``protocol`` and,
            when set, ``max_seconds``; JSON scalars only.
        synthetic: True for generated signals (the demo set); reports must say so.
        kind: the dataset kind that reads the clip (a key of ``bench.datasets.DATASETS``).
        protocol: preparation applied by :meth:`load` (a key of :data:`PROTOCOLS`).
        max_seconds: when set, :meth:`load` keeps only the first ``max_seconds`` seconds.
    """

    dataset: str
    clip_id: str
    domain: str
    path: Path | None
    meta: Mapping[str, MetaValue] = field(default_factory=Meta)
    synthetic: bool = False
    kind: str = ""
    protocol: str = "native"
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.dataset or not isinstance(self.dataset, str):
            raise ValueError(f"clip dataset must be a non-empty string, got {self.dataset!r}")
        if not self.clip_id or not isinstance(self.clip_id, str):
            raise ValueError(f"clip id must be a non-empty string, got {self.clip_id!r}")
        if self.domain not in DOMAINS:
            raise ValueError(f"clip domain must be one of {DOMAINS}, got {self.domain!r}")
        if self.path is not None and not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))
        get_protocol(self.protocol)
        if self.max_seconds is not None:
            seconds = float(self.max_seconds)
            if not (math.isfinite(seconds) and seconds > 0):
                raise AudioError(f"max_seconds must be a positive number, got {self.max_seconds}")
            object.__setattr__(self, "max_seconds", seconds)
        meta = Meta(self.meta).updated(protocol=self.protocol)
        if self.max_seconds is not None:
            meta = meta.updated(max_seconds=self.max_seconds)
        if self.synthetic:
            meta = meta.updated(synthetic=True)
        object.__setattr__(self, "meta", meta)

    # -- identity ---------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """``dataset/clip_id`` plus the preparation, e.g. ``esc50/1-100032-A-0@seed``.

        Two clips with the same key load the same samples; use it for caches and result rows.
        """
        suffix = "" if self.protocol == "native" else f"@{self.protocol}"
        if self.max_seconds is not None:
            suffix += f"@max{self.max_seconds:g}s"
        return f"{self.dataset}/{self.clip_id}{suffix}"

    @property
    def source(self) -> str:
        """Where the samples come from, for messages: the file path or ``generated:<id>``."""
        return str(self.path) if self.path is not None else f"generated:{self.clip_id}"

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for result files and reports."""
        return {
            "dataset": self.dataset,
            "clip_id": self.clip_id,
            "key": self.key,
            "domain": self.domain,
            "path": None if self.path is None else str(self.path),
            "synthetic": self.synthetic,
            "protocol": self.protocol,
            "max_seconds": self.max_seconds,
            "meta": dict(self.meta),
        }

    # -- reading ----------------------------------------------------------------------------
    def load_native(self) -> Audio:
        """The audio as stored (or generated), before any cut or protocol."""
        from bench.datasets import get_kind

        return get_kind(self.kind).read(self)

    def load(self) -> Audio:
        """Read and prepare the audio: native read, ``max_seconds`` cut, then the protocol.

        Raises :class:`AudioError` whose message starts with the file (or ``generated:<id>``)
        and says why: unreadable, empty, non-finite, too short to resample, constant under
        the seed protocol, ...
        """
        try:
            audio = self.load_native()
            if self.max_seconds is not None:
                frames = max(1, round(self.max_seconds * audio.rate))
                if audio.frames > frames:
                    audio = audio.with_frames(frames)
            return get_protocol(self.protocol).apply(audio)
        except AudioError as exc:
            message = str(exc)
            if self.source in message:
                raise
            raise AudioError(f"{self.source}: {message}") from None
