"""PESQ through the ``pesq`` package (ITU-T P.862 reference code).

``pesq_wb`` is wideband PESQ (P.862.2) at 16 kHz and ``pesq_nb`` narrowband PESQ with the P.862.1
MOS-LQO mapping at 8 kHz, both on the mono mix, resampled once with soxr. Values are MOS-LQO:
identical signals give the mapping's maximum, 4.644 (wideband) and 4.549 (narrowband).

``pesq_nb16`` is the other narrowband convention found in published work: the same P.862 code
called on 16 kHz input (``pesq.pesq(16000, ref, deg, "nb")``, as python-pesq's own test does),
where the C code filters and models the signals at 16 kHz instead of 8 kHz. It gives another
number (1.6072 against 1.6654 for ``pesq_nb`` on python-pesq's test pair), so it has its own
name, for matching a paper; it is not in the default set (name it to compute it).

Failures: references shorter than 0.25 s (P.862's minimum) give ``too_short``; the library's
"no utterances detected" (silence, or a short event its voice-activity detection does not
accept as speech) gives ``no_utterance``; a silent degraded signal, which makes the library fail
on a NaN, gives ``silent``.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.metrics import register_metric
from bench.metrics.base import Metric, MetricResult

#: P.862's shortest input, in seconds ("Buffer needs to be at least 1/4 of a second long").
PESQ_MIN_SECONDS = 0.25

# The P.862 C code keeps its state in globals: one call at a time per process.
_lock = threading.Lock()


def _message(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else str(exc)
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


class _Pesq(Metric):
    channels: ClassVar[str] = "mono"
    domain: ClassVar[str] = "speech"
    unit: ClassVar[str] = "MOS-LQO"
    min_duration: ClassVar[float] = PESQ_MIN_SECONDS
    accepts_silent_degraded: ClassVar[bool] = False
    libraries: ClassVar[tuple[str, ...]] = ("pesq", "numpy")
    mode: ClassVar[str] = "wb"

    def _prepare(self, reference: Audio) -> Any:
        return reference.samples[0].astype(np.float64)

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        import pesq

        deg = degraded.samples[0].astype(np.float64)
        try:
            with _lock:
                value = pesq.pesq(degraded.rate, data, deg, self.mode)
        except pesq.NoUtterancesError as exc:
            return MetricResult.fail("no_utterance", _message(exc))
        except pesq.BufferTooShortError as exc:
            return MetricResult.fail("too_short", _message(exc))
        return MetricResult(float(value))


@register_metric
class PesqWideband(_Pesq):
    name = "pesq_wb"
    rate = 16000
    mode = "wb"
    best = 4.643888473510742
    description = "wideband PESQ, ITU-T P.862.2 (pesq package), 16 kHz, MOS-LQO 1.04..4.64"


@register_metric
class PesqNarrowband(_Pesq):
    name = "pesq_nb"
    rate = 8000
    mode = "nb"
    best = 4.548638343811035
    description = "narrowband PESQ, ITU-T P.862 + P.862.1 mapping (pesq package), 8 kHz"


@register_metric
class PesqNarrowband16k(_Pesq):
    name = "pesq_nb16"
    rate = 16000
    mode = "nb"
    best = 4.548638343811035
    default = False
    description = (
        "narrowband PESQ called on 16 kHz input, pesq(16000, ref, deg, 'nb') as in much "
        "published work; not in the default set"
    )
