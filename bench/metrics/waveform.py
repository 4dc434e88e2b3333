"""Sample-domain metrics: SNR, PSNR and SI-SDR (dB, numpy).

All three score every channel, taking the ``(channels, frames)`` array as one signal, at the
input's rate. Sums are taken in float64. Identical signals have no error, so SNR, PSNR and
SI-SDR are exactly ``+inf`` there: the true value, not a cap.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.metrics import register_metric
from bench.metrics.base import Metric, MetricResult

#: PSNR's peak: digital full scale (samples are floats in [-1, 1]).
PSNR_PEAK = 1.0


def _ratio_db(numerator: float, denominator: float) -> float:
    """``10 log10(numerator / denominator)`` with the limits: x/0 -> +inf, 0/x -> -inf."""
    if denominator == 0.0:
        return float("inf") if numerator > 0.0 else float("nan")
    if numerator == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(numerator / denominator))


def snr_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    """``10 log10(sum ref^2 / sum (ref - deg)^2)`` over all samples."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(degraded, dtype=np.float64)
    return _ratio_db(float(np.sum(ref * ref)), float(np.sum(err * err)))


def psnr_db(reference: np.ndarray, degraded: np.ndarray, peak: float = PSNR_PEAK) -> float:
    """``10 log10(peak^2 / mean (ref - deg)^2)`` over all samples."""
    err = np.asarray(reference, dtype=np.float64) - np.asarray(degraded, dtype=np.float64)
    return _ratio_db(peak * peak, float(np.mean(err * err)))


def si_sdr_db(reference: np.ndarray, degraded: np.ndarray) -> float:
    """Scale-invariant SDR (Le Roux et al., 2019) of zero-mean signals.

    Each channel of both signals has its mean removed; then, over all samples,
    ``alpha = <deg, ref> / <ref, ref>`` and
    ``SI-SDR = 10 log10(|alpha ref|^2 / |alpha ref - deg|^2)``.
    NaN when the reference (or the degraded signal) is zero after mean removal.
    """
    ref = np.atleast_2d(np.asarray(reference, dtype=np.float64))
    deg = np.atleast_2d(np.asarray(degraded, dtype=np.float64))
    ref = ref - ref.mean(axis=-1, keepdims=True)
    deg = deg - deg.mean(axis=-1, keepdims=True)
    ref_energy = float(np.sum(ref * ref))
    if ref_energy == 0.0 or not np.any(deg):
        return float("nan")
    alpha = float(np.sum(deg * ref)) / ref_energy
    target = alpha * ref
    residual = target - deg
    return _ratio_db(float(np.sum(target * target)), float(np.sum(residual * residual)))


class _WaveformMetric(Metric):
    channels: ClassVar[str] = "all"
    unit: ClassVar[str] = "dB"
    best: ClassVar[float | None] = float("inf")

    def _prepare(self, reference: Audio) -> Any:
        return reference.samples.astype(np.float64)


@register_metric
class Snr(_WaveformMetric):
    name = "snr"
    description = "signal-to-noise ratio: 10 log10(sum ref^2 / sum (ref - deg)^2)"

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        return MetricResult(snr_db(data, degraded.samples))


@register_metric
class Psnr(_WaveformMetric):
    name = "psnr"
    needs_sound = False  # defined by the error alone
    description = "peak SNR with peak 1.0 (full scale): 10 log10(1 / mean (ref - deg)^2)"

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        return MetricResult(psnr_db(data, degraded.samples))


@register_metric
class SiSdr(_WaveformMetric):
    name = "si_sdr"
    accepts_silent_degraded = False  # 0/0: the scale of a silent estimate is undefined
    description = "scale-invariant SDR (Le Roux et al. 2019), zero-mean signals"

    def _prepare(self, reference: Audio) -> Any:
        ref = reference.samples.astype(np.float64)
        if not np.any(ref - ref.mean(axis=-1, keepdims=True)):
            return MetricResult.fail("silent", "reference is constant (zero after mean removal)")
        return ref

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        deg = degraded.samples.astype(np.float64)
        if not np.any(deg - deg.mean(axis=-1, keepdims=True)):
            return MetricResult.fail("silent", "degraded signal is constant (no AC content)")
        return MetricResult(si_sdr_db(data, deg))
