"""STOI and extended STOI through ``pystoi`` (Taal et al. 2011; Jensen & Taal 2016).

Both work at pystoi's own rate, 10 kHz, on the mono mix: signals are resampled to 10 kHz once
with soxr, so pystoi's internal resampler is never used (``pystoi.stoi(x, y, 10000)``).

pystoi returns the fill value ``1e-5`` (with a warning) when fewer than 30 STFT frames remain
after it drops the reference's silent frames. Which frames are dropped depends on the reference
alone, so the count is checked once in :meth:`~bench.metrics.base.Metric.prepare` with pystoi's
own functions and such references give ``too_short`` instead of the fill value.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.metrics import register_metric
from bench.metrics.base import Metric, MetricResult

#: pystoi's working rate (``pystoi.stoi.FS``).
STOI_RATE = 10000

_lock = threading.Lock()  # warnings.catch_warnings is process-global state


def voiced_frames(reference: np.ndarray) -> int:
    """STFT frames pystoi keeps from a 10 kHz reference after removing silent frames."""
    # "from pystoi import stoi" gives the function, which shadows the module of the same name
    from pystoi.stoi import DYN_RANGE, N_FRAME
    from pystoi.utils import remove_silent_frames

    frame, hop = N_FRAME, N_FRAME // 2
    if len(reference) <= frame:
        return 0
    kept, _ = remove_silent_frames(reference, reference, DYN_RANGE, frame, hop)
    # pystoi's stft() takes frames at range(0, len - N_FRAME, N_FRAME // 2)
    return len(range(0, len(kept) - frame, hop))


class _Stoi(Metric):
    rate: ClassVar[int | None] = STOI_RATE
    channels: ClassVar[str] = "mono"
    domain: ClassVar[str] = "speech"
    unit: ClassVar[str] = ""
    libraries: ClassVar[tuple[str, ...]] = ("pystoi", "numpy", "scipy")
    extended: ClassVar[bool] = False

    def _prepare(self, reference: Audio) -> Any:
        from pystoi.stoi import N

        ref = reference.samples[0].astype(np.float64)
        frames = voiced_frames(ref)
        if frames < N:
            return MetricResult.fail(
                "too_short",
                f"{frames} voiced STFT frame(s) after silence removal; STOI needs {N}",
            )
        return ref

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        from pystoi import stoi

        deg = degraded.samples[0].astype(np.float64)
        with _lock, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = float(stoi(data, deg, STOI_RATE, extended=self.extended))
        if any("Not enough STFT frames" in str(w.message) for w in caught):
            return MetricResult.fail("too_short", "pystoi found fewer than 30 STFT frames")
        return MetricResult(value)


@register_metric
class Stoi(_Stoi):
    name = "stoi"
    best = 1.0
    description = "short-time objective intelligibility (pystoi, 10 kHz), 0..1"


@register_metric
class Estoi(_Stoi):
    name = "estoi"
    extended = True
    # pystoi adds eps-scaled random noise before normalising: on a silent degraded signal the
    # "score" would be the correlation with that noise, so it is reported as silent instead.
    accepts_silent_degraded = False
    best = 1.0
    description = "extended STOI (Jensen & Taal 2016; pystoi, 10 kHz), at most 1"
