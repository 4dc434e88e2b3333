"""The metric interface.

A metric declares the rate and channel layout it works at and scores a degraded signal against a
reference. Scoring is split in two so the reference-side work (resampling, spectra, ViSQOL's
reference analysis) is done once per clip and reused for every codec point:

    state = metric.prepare(reference)          # once per clip
    result = metric.score_prepared(state, deg)  # once per (codec, bitrate)

A metric never raises for a bad signal: it returns ``MetricResult(nan, reason)`` with a short
machine-readable reason from :data:`REASONS`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from bench.audio import Audio

#: Machine-readable reasons a metric value is NaN.
REASONS = {
    "too_short": "signal shorter than the metric's minimum",
    "silent": "reference (or degraded signal, where it matters) is digital silence",
    "no_utterance": "PESQ found no utterance (silence or too little speech activity)",
    "non_finite": "signal holds NaN or inf",
    "length_mismatch": "reference and degraded signals differ in length",
    "not_applicable": "metric does not apply to this dataset's content",
    "error": "the metric's library raised an unexpected error (message kept)",
}


@dataclass(frozen=True)
class MetricResult:
    """A score, or NaN with a reason code (and optional detail)."""

    value: float
    reason: str | None = None
    detail: str | None = None

    @classmethod
    def fail(cls, reason: str, detail: str | None = None) -> MetricResult:
        """NaN with ``reason`` (one of :data:`REASONS`)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}; valid: {', '.join(REASONS)}")
        return cls(math.nan, reason, detail)

    @property
    def ok(self) -> bool:
        """True when a finite value was computed."""
        return self.reason is None and math.isfinite(self.value)


class Metric(ABC):
    """Base class of every metric."""

    name: ClassVar[str] = ""
    #: Rate the metric works at (signals are resampled to it once); ``None`` = the input's rate.
    rate: ClassVar[int | None] = None
    #: Channel rule: ``"mono"`` (channels averaged before scoring).
    channels: ClassVar[str] = "mono"
    higher_is_better: ClassVar[bool] = True
    unit: ClassVar[str] = ""
    #: ``"speech"``, ``"audio"`` (general audio) or ``"both"``.
    domain: ClassVar[str] = "both"
    description: ClassVar[str] = ""

    @abstractmethod
    def prepare(self, reference: Audio) -> Any:
        """Reference-side state reused for every degraded version of this reference."""

    @abstractmethod
    def score_prepared(self, state: Any, degraded: Audio) -> MetricResult:
        """Score ``degraded`` (same rate and length as the reference) against ``state``."""

    def score(self, reference: Audio, degraded: Audio) -> MetricResult:
        """Convenience: ``score_prepared(prepare(reference), degraded)``."""
        return self.score_prepared(self.prepare(reference), degraded)

    def applies_to(self, domain: str) -> bool:
        """Whether this metric is meaningful on a dataset of ``domain`` (``speech``/``audio``)."""
        return self.domain == "both" or self.domain == domain

    def version(self) -> str:
        """Everything that changes this metric's values (wrapper and library versions)."""
        return "1"
