"""The metric interface.

A metric declares the rate and channel layout it works at and scores a degraded signal against a
reference. Scoring is split in two so the reference-side work (resampling, spectra, ViSQOL's
reference analysis) is done once per clip and reused for every codec point:

    state = metric.prepare(reference)          # once per clip
    result = metric.score_prepared(state, deg)  # once per (codec, bitrate)

A metric never raises for a bad signal: it returns ``MetricResult(nan, reason)`` with a short
machine-readable reason from :data:`REASONS`. An exception inside a metric's library becomes
``reason="error"`` with the message kept in ``detail``.

Subclasses implement :meth:`Metric._prepare` and :meth:`Metric._score`; the public methods here
do the checks every metric shares (duration, silence, shape) and the conversion to the metric's
rate and channel layout, so a metric's own code only ever sees signals it can score.

A *reference-free* (non-intrusive) metric such as DNSMOS scores the degraded signal alone:
it subclasses :class:`ReferenceFreeMetric` (``intrusive = False``) and implements
:meth:`ReferenceFreeMetric._score_signal`. It goes through the same two calls (its ``prepare``
does nothing, so the runner and the store treat every metric alike) and can also score one
signal directly with :meth:`Metric.score_signal`, e.g. the original clip as a baseline.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import math
import os
import re
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio, resampler_description

#: Machine-readable reasons a metric value is NaN.
REASONS = {
    "too_short": "signal shorter than the metric's minimum",
    "silent": "reference (or, for metrics that cannot score it, the degraded signal) is digital "
    "silence",
    "no_utterance": "PESQ found no utterance (silence or too little speech activity)",
    "non_finite": "signal holds NaN or inf",
    "length_mismatch": "reference and degraded signals differ in length, channel count or rate",
    "error": "the metric's library raised an unexpected error (message kept)",
}

#: Channel rules a metric can declare (:attr:`Metric.channels`).
CHANNEL_RULES = {
    "mono": "channels averaged to one before scoring (the perceptual models are mono)",
    "all": "every channel scored, all channels taken together as one signal",
}

#: Content domains: a metric's :attr:`Metric.domain` and a dataset's domain.
DOMAINS = ("speech", "audio", "both")


@dataclass(frozen=True)
class MetricResult:
    """A score, or NaN with a reason code (and optional detail).

    ``applicable`` is False when the metric was computed on content it is not meant for (a
    speech metric on ESC-50); the value is kept so a report can show it greyed out.
    """

    value: float
    reason: str | None = None
    detail: str | None = None
    applicable: bool = True

    @classmethod
    def fail(cls, reason: str, detail: str | None = None) -> MetricResult:
        """NaN with ``reason`` (one of :data:`REASONS`)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}; valid: {', '.join(REASONS)}")
        return cls(math.nan, reason, detail)

    @property
    def ok(self) -> bool:
        """True when a value (finite, or an exact +-inf such as the SNR of identical signals)
        was computed."""
        return self.reason is None and not math.isnan(self.value)

    def marked(self, applicable: bool) -> MetricResult:
        """This result with ``applicable`` set."""
        return (
            self
            if applicable == self.applicable
            else dataclasses.replace(self, applicable=applicable)
        )


@dataclass(frozen=True)
class MetricState:
    """What :meth:`Metric.prepare` returns: the reference-side work for one clip.

    ``rate``, ``channels`` and ``frames`` describe the reference after conversion to the
    metric's rate and channel rule; a degraded signal must convert to the same shape.
    ``failure`` is set when the reference itself cannot be scored (too short, silent): every
    degraded version then gets that result.
    """

    metric: str
    rate: int
    channels: int
    frames: int
    data: Any = None
    failure: MetricResult | None = None


@cache
def distribution_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (``None`` when not installed), looked up once
    per process: the same answer as ``importlib.metadata.version``, which a run asks for two
    dozen libraries (metrics' cache keys, the run metadata). That parses each METADATA file with
    the email parser and lists every ``sys.path`` entry per name; here one listing of the path
    finds each distribution's metadata directory, and only its ``Version`` header is read
    (:func:`_fast_version`); anything unusual is left to importlib.metadata."""
    found = _fast_version(distribution)
    if found is not None:
        return found
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _normalize(name: str) -> str:
    # importlib.metadata's Prepared.normalize: PEP 503 with dashes as underscores.
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


@cache
def _metadata_dirs() -> dict[str, str | None] | None:
    """Normalized distribution name -> the metadata directory importlib.metadata would find
    first on ``sys.path`` (``None`` where one path entry holds several, whose order would be the
    directory listing's); ``None`` as a whole when the path holds what this scan does not model
    (a zip or egg entry, a finder other than the path finder that finds distributions)."""
    finders = [f for f in sys.meta_path if hasattr(f, "find_distributions")]
    if finders != [importlib.machinery.PathFinder]:
        return None
    found: dict[str, str | None] = {}
    for entry in sys.path:
        root = entry or "."
        if root.lower().endswith(".egg") or os.path.isfile(root):
            return None
        try:
            children = os.listdir(root)
        except OSError:  # a missing folder or a path hook's marker: nothing there
            continue
        here: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                name = _normalize(low.rpartition(".")[0].partition("-")[0])
                here.setdefault(name, []).append(os.path.join(root, child))
        for name, paths in here.items():
            if name not in found:
                found[name] = paths[0] if len(paths) == 1 else None
    return found


def _fast_version(distribution: str) -> str | None:
    """The ``Version`` header of the metadata importlib.metadata would read for
    ``distribution``; ``None`` when that is not a plain ``.dist-info``/``.egg-info`` folder
    with a METADATA (or PKG-INFO) file holding one unfolded ``Version`` header, or not found."""
    dirs = _metadata_dirs()
    path = dirs.get(_normalize(distribution)) if dirs is not None else None
    if path is None or not os.path.isdir(path):
        return None
    for name in ("METADATA", "PKG-INFO"):  # PathDistribution.metadata's order
        try:
            with open(os.path.join(path, name), encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return _version_header(text)
    return None


def _version_header(text: str) -> str | None:
    """The first ``Version:`` header of an RFC 822 header block, as the email parser reads it;
    ``None`` when it is folded over lines or absent (left to the email parser)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            return None  # the end of the headers
        if line[:8].lower() == "version:":
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if following[:1] in (" ", "\t"):
                return None
            return line[8:].lstrip(" \t").rstrip("\r")
    return None


def library_version(distribution: str) -> str:
    """``"name==version"`` of an installed distribution (``"name==?"`` when not installed)."""
    return f"{distribution}=={distribution_version(distribution) or '?'}"


def _describe_error(exc: BaseException) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class Metric(ABC):
    """Base class of every metric."""

    name: ClassVar[str] = ""
    #: Rate the metric works at (signals are resampled to it once); ``None`` = the input's rate.
    rate: ClassVar[int | None] = None
    #: Channel rule, a key of :data:`CHANNEL_RULES`.
    channels: ClassVar[str] = "mono"
    higher_is_better: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    #: ``"speech"``, ``"audio"`` (general audio) or ``"both"``.
    domain: ClassVar[str] = "both"
    description: ClassVar[str] = ""
    #: Value of identical signals where it is content-independent, else ``None``.
    best: ClassVar[float | None] = None
    #: References shorter than this (seconds) give ``too_short``.
    min_duration: ClassVar[float] = 0.0
    #: A digitally silent reference (after the channel rule) gives ``silent``.
    needs_sound: ClassVar[bool] = True
    #: False where the metric's value is undefined for a silent degraded signal.
    accepts_silent_degraded: ClassVar[bool] = True
    #: True where the metric aligns a degraded signal of another length itself (ViSQOL's global
    #: alignment, as its C++ tool does): such a signal is scored as it is, not refused with
    #: ``length_mismatch``.
    aligns_itself: ClassVar[bool] = False
    #: False for a reference-free (non-intrusive) metric: it scores the degraded signal alone.
    intrusive: ClassVar[bool] = True
    #: Part of the default set (``--metrics default``) on the content it applies to; a metric
    #: left out is computed only when named.
    default: ClassVar[bool] = True
    #: Bumped when this wrapper changes in a way that changes values.
    wrapper_version: ClassVar[int] = 1
    #: Distributions whose versions change this metric's values.
    libraries: ClassVar[tuple[str, ...]] = ("numpy",)

    # -- what subclasses implement ------------------------------------------------------------
    @abstractmethod
    def _prepare(self, reference: Audio) -> Any:
        """Reference-side state from the converted reference, or a failed :class:`MetricResult`."""

    @abstractmethod
    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        """Score the converted degraded signal against ``data`` from :meth:`_prepare`."""

    # -- public API ---------------------------------------------------------------------------
    def working_rate(self, input_rate: int) -> int:
        """The rate this metric scores a signal given at ``input_rate`` at."""
        return int(self.rate) if self.rate else int(input_rate)

    def convert(self, audio: Audio) -> Audio:
        """``audio`` in this metric's channel layout and at its rate (a no-op when it already is).

        The channel rule is applied first, so a stereo file is resampled once, as mono.
        """
        if self.channels == "mono":
            audio = audio.mono()
        return audio.resample(self.working_rate(audio.rate))

    def prepare(self, reference: Audio) -> MetricState:
        """Reference-side state reused for every degraded version of this reference.

        ``reference`` may already be converted (see :meth:`convert`); it is then used as is.
        Never raises: a reference that cannot be scored gives a state whose ``failure`` every
        :meth:`score_prepared` call returns.
        """

        def failed(result: MetricResult, rate: int, channels: int, frames: int) -> MetricState:
            return MetricState(self.name, rate, channels, frames, failure=result)

        shape = (self.working_rate(reference.rate), reference.channels, reference.frames)
        if not self.intrusive:
            # Nothing to prepare: the degraded signal is checked and scored on its own.
            return MetricState(self.name, *shape)
        try:
            if reference.duration < self.min_duration:
                return failed(
                    MetricResult.fail(
                        "too_short",
                        f"reference lasts {reference.duration:.3f} s; {self.name} needs at "
                        f"least {self.min_duration:g} s",
                    ),
                    *shape,
                )
            converted = self.convert(reference)
            shape = (converted.rate, converted.channels, converted.frames)
            if self.needs_sound and converted.is_silent():
                return failed(MetricResult.fail("silent", "reference is digital silence"), *shape)
            data = self._prepare(converted)
        except Exception as exc:  # a metric must not stop a run
            return failed(MetricResult.fail("error", _describe_error(exc)), *shape)
        if isinstance(data, MetricResult):
            return failed(data, *shape)
        return MetricState(self.name, *shape, data=data)

    def score_prepared(self, state: MetricState, degraded: Audio) -> MetricResult:
        """Score ``degraded`` against a prepared reference; never raises.

        ``degraded`` must have the reference's duration (any duration for a metric that
        :attr:`aligns_itself`); it is converted to the metric's rate and layout unless it
        already is.
        """
        if state.failure is not None:
            return state.failure
        if not self.intrusive:
            return self.score_signal(degraded)
        try:
            converted = self.convert(degraded)
            got = (converted.rate, converted.channels, converted.frames)
            want = (state.rate, state.channels, state.frames)
            if got != want and not (self.aligns_itself and got[:2] == want[:2]):
                return MetricResult.fail(
                    "length_mismatch",
                    f"degraded is (rate, channels, frames) {got} at the metric's rate, "
                    f"reference is {want}",
                )
            if not self.accepts_silent_degraded and converted.is_silent():
                return MetricResult.fail(
                    "silent", f"degraded signal is digital silence; {self.name} is undefined"
                )
            result = self._score(state.data, converted)
        except Exception as exc:  # a metric must not stop a run
            return MetricResult.fail("error", _describe_error(exc))
        if result.reason is None and math.isnan(result.value):
            return MetricResult.fail("error", f"{self.name} returned NaN without a reason")
        return result

    def score(self, reference: Audio, degraded: Audio) -> MetricResult:
        """Convenience: ``score_prepared(prepare(reference), degraded)``."""
        return self.score_prepared(self.prepare(reference), degraded)

    def score_signal(self, audio: Audio) -> MetricResult:
        """Score one signal with a reference-free metric; never raises.

        The same rules as a degraded signal against a reference: shorter than
        :attr:`min_duration` gives ``too_short``, digital silence ``silent`` (the models were
        never shown silence and their value for it means nothing), the channel rule and rate
        are applied first. An intrusive metric has nothing to score a lone signal against.
        """
        if self.intrusive:
            raise TypeError(f"{self.name} needs a reference; use score(reference, degraded)")
        try:
            if audio.duration < self.min_duration:
                return MetricResult.fail(
                    "too_short",
                    f"signal lasts {audio.duration:.3f} s; {self.name} needs at least "
                    f"{self.min_duration:g} s",
                )
            converted = self.convert(audio)
            if converted.is_silent():
                return MetricResult.fail(
                    "silent", f"signal is digital silence; {self.name} is undefined"
                )
            result = self._score(None, converted)
        except Exception as exc:  # a metric must not stop a run
            return MetricResult.fail("error", _describe_error(exc))
        if result.reason is None and math.isnan(result.value):
            return MetricResult.fail("error", f"{self.name} returned NaN without a reason")
        return result

    def score_arrays(self, reference: Any, degraded: Any, rate: int) -> MetricResult:
        """Score raw float arrays (1-D mono or ``(channels, frames)``) given at ``rate``.

        Unlike :class:`~bench.audio.Audio`, raw arrays may hold NaN or inf: that gives
        ``non_finite``; different shapes give ``length_mismatch`` (only different channel counts
        for a metric that :attr:`aligns_itself`); empty arrays ``too_short``.
        """
        try:
            ref = np.asarray(reference)
            deg = np.asarray(degraded)
            if ref.size == 0 or deg.size == 0:
                return MetricResult.fail("too_short", "empty signal")
            for label, array in (("reference", ref), ("degraded", deg)):
                if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
                    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
                    return MetricResult.fail("non_finite", f"{label} has {bad} NaN/inf sample(s)")
            other_length = self.aligns_itself and ref.shape[:-1] == deg.shape[:-1]
            if ref.shape != deg.shape and not other_length:
                return MetricResult.fail(
                    "length_mismatch", f"reference shape {ref.shape}, degraded {deg.shape}"
                )
            return self.score(Audio(ref, rate), Audio(deg, rate))
        except Exception as exc:
            return MetricResult.fail("error", _describe_error(exc))

    def applies_to(self, domain: str) -> bool:
        """Whether this metric is meaningful on a dataset of ``domain`` (``speech``/``audio``)."""
        return self.domain == "both" or domain == "both" or self.domain == domain

    def version(self) -> str:
        """Everything that changes this metric's values (wrapper and library versions)."""
        parts = [f"{self.name}/{self.wrapper_version}"]
        parts += [library_version(lib) for lib in self.libraries]
        if self.rate is not None:
            parts.append(resampler_description())
        return "; ".join(parts)

    def describe(self) -> dict[str, Any]:
        """The declared properties, as plain data (for run metadata and JSON output)."""
        return {
            "name": self.name,
            "rate": self.rate,
            "channels": self.channels,
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "domain": self.domain,
            "best": self.best,
            "min_duration": self.min_duration,
            "reference_free": not self.intrusive,
            "default": self.default,
            "description": self.description,
        }

    def __repr__(self) -> str:
        return f"<metric {self.name}: {self.rate or 'input'} Hz, {self.channels}, {self.domain}>"


class ReferenceFreeMetric(Metric):
    """Base class of a non-intrusive metric: the degraded signal alone is scored.

    Subclasses implement :meth:`_score_signal` on the converted signal (at :attr:`rate`, after
    the channel rule, at least :attr:`min_duration` long, not silent).
    """

    intrusive: ClassVar[bool] = False
    needs_sound: ClassVar[bool] = False
    accepts_silent_degraded: ClassVar[bool] = False

    @abstractmethod
    def _score_signal(self, signal: Audio) -> MetricResult:
        """Score ``signal`` (already converted to the metric's rate and channels)."""

    def _prepare(self, reference: Audio) -> Any:
        return None

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        return self._score_signal(degraded)
