"""Scoring many degraded versions of one reference with several metrics.

:func:`prepare_reference` converts the reference once per distinct (rate, channel rule) among the
metrics and runs each metric's reference-side preparation once; :func:`score_degraded` converts
each degraded version once per distinct (rate, channel rule) and scores it with every metric.
Neither raises for a bad signal: every outcome is a :class:`~bench.metrics.base.MetricResult`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.audio import Audio, resampler_description
from bench.metrics.base import Metric, MetricResult, MetricState, _describe_error


@dataclass
class PreparedReference:
    """A reference clip with every metric's reference-side state.

    ``seconds`` accumulates the time spent per metric (preparation and scoring), so a run can
    report what its metrics cost.
    """

    reference: Audio
    metrics: tuple[Metric, ...]
    states: dict[str, MetricState]
    domain: str | None = None
    resampler: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def rates(self) -> dict[str, int]:
        """The rate each metric scores at, by metric name."""
        return {m.name: m.working_rate(self.reference.rate) for m in self.metrics}

    def applicable(self, metric: Metric) -> bool:
        """Whether ``metric`` applies to this reference's domain (True when it is unknown)."""
        return self.domain is None or metric.applies_to(self.domain)


def _layout_key(metric: Metric, audio: Audio) -> tuple[int, str]:
    # Signals converted for one metric are reused by every metric with the same key.
    return (metric.working_rate(audio.rate), metric.channels)


def _convert_all(metrics: Sequence[Metric], audio: Audio) -> dict[tuple[int, str], Audio]:
    """``audio`` converted once per distinct (rate, channel rule); failed conversions are left
    out, so the metric converts (and reports the failure) itself."""
    converted: dict[tuple[int, str], Audio] = {}
    for metric in metrics:
        key = _layout_key(metric, audio)
        if key not in converted:
            try:
                converted[key] = metric.convert(audio)
            except Exception:  # reported per metric by prepare()/score_prepared()
                continue
    return converted


def prepare_reference(
    metrics: Sequence[Metric], reference: Audio, domain: str | None = None
) -> PreparedReference:
    """Resample ``reference`` once per distinct metric rate and prepare every metric.

    ``domain`` (``"speech"``/``"audio"``) is the content of the dataset the clip comes from;
    results of metrics that do not apply to it are marked ``applicable=False``.
    """
    metrics = tuple(metrics)
    seconds: dict[str, float] = {}
    converted = _convert_all(metrics, reference)
    states: dict[str, MetricState] = {}
    for metric in metrics:
        start = time.perf_counter()
        signal = converted.get(_layout_key(metric, reference), reference)
        states[metric.name] = metric.prepare(signal)
        seconds[metric.name] = time.perf_counter() - start
    return PreparedReference(
        reference=reference,
        metrics=metrics,
        states=states,
        domain=domain,
        resampler=resampler_description(),
        seconds=seconds,
    )


def _mismatch(reference: Audio, degraded: Audio, metric: Metric) -> str | None:
    if degraded.rate != reference.rate:
        return f"degraded is at {degraded.rate} Hz, reference at {reference.rate} Hz"
    if degraded.frames != reference.frames and not metric.aligns_itself:
        return f"degraded has {degraded.frames} frames, reference {reference.frames}"
    if metric.channels != "mono" and degraded.channels != reference.channels:
        return f"degraded has {degraded.channels} channel(s), reference {reference.channels}"
    return None


def score_degraded(prepared: PreparedReference, degraded: Audio) -> dict[str, MetricResult]:
    """Score ``degraded`` with every prepared metric; returns metric name -> result.

    ``degraded`` must have the reference's rate and length (and channel count, for metrics that
    score every channel); otherwise those metrics give ``length_mismatch``. A metric that
    :attr:`~bench.metrics.base.Metric.aligns_itself` (ViSQOL) takes a degraded signal of any
    length. It is resampled once
    per distinct metric rate. A metric that raises gives ``error`` with the message in
    ``detail``; nothing here raises for a bad signal.
    """
    results: dict[str, MetricResult] = {}
    converted: dict[tuple[int, str], Audio] | None = None
    for metric in prepared.metrics:
        start = time.perf_counter()
        problem = _mismatch(prepared.reference, degraded, metric)
        if problem is not None:
            result = MetricResult.fail("length_mismatch", problem)
        else:
            if converted is None:
                converted = _convert_all(prepared.metrics, degraded)
            signal = converted.get(_layout_key(metric, degraded), degraded)
            try:
                result = metric.score_prepared(prepared.states[metric.name], signal)
            except Exception as exc:  # score_prepared does not raise; a plug-in metric might
                result = MetricResult.fail("error", _describe_error(exc))
        results[metric.name] = result.marked(prepared.applicable(metric))
        prepared.seconds[metric.name] = (
            prepared.seconds.get(metric.name, 0.0) + time.perf_counter() - start
        )
    return results
