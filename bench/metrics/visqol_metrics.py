"""ViSQOL v3 (Chinen et al. 2020) through visqol-python, a port of Google's C++ ViSQOL 3.3.3.

``visqol_audio``: audio mode, 48 kHz, 32 gammatone bands, SVR quality model (only the mean
per-band similarity feeds it, so identical signals always give 4.732101253..., the C++
conformance value for its identity case). ``visqol_speech``: speech mode, 16 kHz, 21 bands,
voice-activity patch selection and the deep-lattice mapper (Google's C++ default). Both score
the mono mix, resampled once with soxr, and return MOS-LQO in [1, 5]. A degraded signal of
another length than the reference is scored as it is: ViSQOL aligns it globally itself.

The reference-side analysis runs once per clip (:mod:`bench.metrics.visqol_split`). Signals
shorter than 1 s give ``too_short``; a silent reference or degraded signal gives ``silent``
(ViSQOL matches the degraded signal's level to the reference's, which is undefined for silence
and makes visqol-python return NaN).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.metrics import register_metric
from bench.metrics.base import Metric, MetricResult
from bench.metrics.visqol_split import MODE_RATES, analyse_reference, compare, split_enabled

#: Shortest reference scored, in seconds (audio mode needs 45 spectrogram frames, about 0.98 s).
VISQOL_MIN_SECONDS = 1.0


class _Visqol(Metric):
    channels: ClassVar[str] = "mono"
    unit: ClassVar[str] = "MOS-LQO"
    min_duration: ClassVar[float] = VISQOL_MIN_SECONDS
    accepts_silent_degraded: ClassVar[bool] = False
    # ViSQOL aligns the degraded signal globally (envelope cross-correlation) and per patch, so
    # a coded file of another length is scored as visqol-python's VisqolApi.measure scores it.
    aligns_itself: ClassVar[bool] = True
    libraries: ClassVar[tuple[str, ...]] = ("visqol-python", "numba", "numpy", "scipy")
    mode: ClassVar[str] = "audio"

    def _prepare(self, reference: Audio) -> Any:
        return analyse_reference(self.mode, reference.samples[0].astype(np.float64))

    def _score(self, data: Any, degraded: Audio) -> MetricResult:
        result = compare(data, degraded.samples[0].astype(np.float64))
        return MetricResult(float(result.moslqo))

    def version(self) -> str:
        split = "split" if split_enabled() else "direct"
        return f"{super().version()}; {split}"


@register_metric
class VisqolAudio(_Visqol):
    name = "visqol_audio"
    rate = MODE_RATES["audio"]
    domain = "audio"
    mode = "audio"
    best = 4.732101253042348
    libraries = (*_Visqol.libraries, "libsvm-official")
    description = "ViSQOL v3 audio mode (visqol-python, 48 kHz, SVR model), MOS-LQO 1..5"


@register_metric
class VisqolSpeech(_Visqol):
    name = "visqol_speech"
    rate = MODE_RATES["speech"]
    domain = "speech"
    mode = "speech"
    libraries = (*_Visqol.libraries, "ai-edge-litert")
    description = (
        "ViSQOL v3 speech mode (visqol-python, 16 kHz, deep-lattice mapper as in the C++ "
        "default), MOS-LQO 1..5"
    )
