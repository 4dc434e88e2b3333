"""What the report needs to know about a metric, without importing the metric registry."""

from __future__ import annotations

from dataclasses import dataclass

#: The dataset domains a metric can be restricted to.
DOMAINS = ("speech", "audio", "both")


@dataclass(frozen=True)
class MetricInfo:
    """Name, direction, unit and content domain of one metric column of the results table.

    ``higher_is_better`` orients every comparison (for ``lsd`` or ``mel_distance`` lower is
    better). ``domain`` is ``"speech"`` for metrics that only mean something on speech (PESQ,
    STOI, ViSQOL speech mode), ``"audio"`` for general-audio-only metrics, ``"both"`` otherwise.
    ``reference_free`` marks a non-intrusive metric (DNSMOS): it scores the decoded signal
    alone, and every label says "no reference".
    """

    name: str
    higher_is_better: bool = True
    unit: str = ""
    domain: str = "both"
    reference_free: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"metric name must be a non-empty string, got {self.name!r}")
        if self.domain not in DOMAINS:
            raise ValueError(f"metric domain must be one of {DOMAINS}, got {self.domain!r}")

    def applies_to(self, dataset_domain: str | None) -> bool:
        """Whether the metric is meaningful on a dataset of ``dataset_domain``.

        An unknown domain (``None`` or empty) is given the benefit of the doubt.
        """
        return self.domain == "both" or not dataset_domain or self.domain == dataset_domain

    def label(self) -> str:
        """Axis/table label, e.g. ``"si_sdr (dB)"``, ``"dnsmos_ovrl (MOS, no reference)"``."""
        notes = [n for n in (self.unit, "no reference" if self.reference_free else "") if n]
        return f"{self.name} ({', '.join(notes)})" if notes else self.name

    def direction(self) -> str:
        """``"higher is better"`` or ``"lower is better"``."""
        return "higher is better" if self.higher_is_better else "lower is better"
