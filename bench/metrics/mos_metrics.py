"""DNSMOS and PLCMOS: Microsoft's non-intrusive speech-quality models, from the ``speechmos`` wheel.

These metrics need **no reference**: each scores the decoded signal alone (mono mix, 16 kHz,
resampled once with soxr), so they say how good the output sounds, not how close it is to the
input. They are :class:`~bench.metrics.base.ReferenceFreeMetric` subclasses and are marked
"no reference" in the report.

* ``dnsmos_sig``, ``dnsmos_bak``, ``dnsmos_ovrl``: DNSMOS P.835 (Reddy et al., ICASSP 2022),
  speech signal quality, background-noise quality and overall quality, from one run of the
  ``sig_bak_ovr.onnx`` model and its polynomial calibration (non-personalised).
  ``dnsmos_p808``: the P.808 overall-quality model (``model_v8.onnx``) on a 120-band log-mel
  spectrogram. All four on a 1..5 MOS scale.
* ``plcmos``: PLCMOS v2 (Mittag et al., Interspeech 2023), built to rate packet-loss
  concealment; the mean over 15 random "rater embeddings" (no packets are lost in this suite:
  it is here for plug-in codecs that conceal).

None of them is in the default set: name them (``--metrics default,dnsmos_ovrl,dnsmos_p808``).
On the 86 LibriSpeech utterances (7.8 s mean) DNSMOS costs 0.83 CPU s per point, twice the
0.41 s of all ten default speech metrics together; PLCMOS 0.27 s.

The computation is speechmos 0.0.1.1's, line for line, with three deliberate differences:

1. The ONNX sessions are created here from the model files inside the wheel, with one intra-op
   and one inter-op thread, so a worker uses one core (speechmos's own sessions use them all).
   They are created once per process and reused.
2. speechmos's ``dnsmos`` module imports librosa (and with it scikit-learn, and numba
   functions that take 2 s to load in every worker and 20 s to compile on a fresh install) for
   one mel spectrogram; :func:`p808_features` computes librosa 0.11's ``melspectrogram`` +
   ``power_to_db`` for those fixed parameters in numpy. ``tests/metrics/test_mos_metrics.py``
   checks the features against librosa and the four scores against ``speechmos.dnsmos.run``.
3. PLCMOS draws its rater embeddings from numpy's global random state; here they come from a
   fixed seed, so a signal always gets the same value (the test checks that the value equals
   speechmos's own after ``np.random.seed`` with that seed).

Input rules (speechmos's): DNSMOS scores 9.01-s segments with a 1-s hop and averages them; a
shorter signal is repeated until it is 9.01 s long. Signals shorter than 1 s give
``too_short`` here (below that the repetition, not the speech, is what the model hears);
digital silence gives ``silent``. Samples beyond [-1, 1] (a codec's overshoot) are clipped to
it, as a 16-bit file of the output would be; speechmos refuses them.

Cost (one core, ``benchmarks/bench_mos.py``): DNSMOS runs its P.835 model once per second of
signal beyond 8 s (at least once), about 0.2 s per run, so a 30-s utterance costs 4-5 s.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.audio import Audio
from bench.metrics import register_metric
from bench.metrics.base import MetricResult, ReferenceFreeMetric

#: The models' rate.
MOS_RATE = 16000
#: DNSMOS's segment length (seconds) and hop (one second).
DNSMOS_SEGMENT_S = 9.01
#: Shortest signal scored, in seconds.
MOS_MIN_SECONDS = 1.0
#: PLCMOS: rater embeddings averaged, and the seed they are drawn from.
PLCMOS_ROUNDS, PLCMOS_SEED = 15, 0

#: DNSMOS P.835 calibration polynomials (speechmos ``get_polyfit_val``, non-personalised).
_POLY = {
    "sig": np.poly1d([-0.08397278, 1.22083953, 0.0052439]),
    "bak": np.poly1d([-0.13166888, 1.60915514, -0.39604546]),
    "ovrl": np.poly1d([-0.06766283, 1.11546468, 0.04602535]),
}

_lock = threading.Lock()
_sessions: dict[str, Any] = {}
# The last signal's P.835 scores: dnsmos_sig, _bak and _ovrl score the same signal in a row.
_last_p835: tuple[str, tuple[float, float, float]] | None = None


def model_dir() -> Path:
    """The ``speechmos`` package folder holding the ONNX models (found without importing it:
    its ``dnsmos`` module imports librosa)."""
    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("speechmos is not installed (pip install speechmos)")
    return Path(next(iter(spec.submodule_search_locations)))


def session(relative: str) -> Any:
    """A single-threaded onnxruntime session for a model file of the wheel, once per process."""
    with _lock:
        if relative not in _sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3  # warnings about unused initialisers are noise
            _sessions[relative] = ort.InferenceSession(
                str(model_dir() / relative), options, providers=["CPUExecutionProvider"]
            )
        return _sessions[relative]


# -- P.808 features: librosa 0.11's melspectrogram + power_to_db, for DNSMOS's parameters ------
_N_FFT, _HOP, _N_MELS = 321, 160, 120


def _hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    # Slaney's scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    mels = freqs / f_sp
    log_t = freqs >= min_log_hz
    mels[log_t] = min_log_mel + np.log(freqs[log_t] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    freqs = f_sp * mels
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    return freqs


def _mel_basis() -> np.ndarray:
    # librosa.filters.mel(sr=16000, n_fft=321, n_mels=120, norm="slaney", dtype=float32)
    fftfreqs = np.fft.rfftfreq(n=_N_FFT, d=1.0 / MOS_RATE)
    edges = _hz_to_mel(np.array([0.0, MOS_RATE / 2.0]))
    mel_f = _mel_to_hz(np.linspace(edges[0], edges[1], _N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((_N_MELS, fftfreqs.size), dtype=np.float32)
    for i in range(_N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : _N_MELS + 2] - mel_f[:_N_MELS]))[:, np.newaxis]
    return weights


_MEL = _mel_basis()
# scipy.signal.get_window("hann", 321, fftbins=True): the periodic Hann window.
_WINDOW = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(_N_FFT) / _N_FFT)


def p808_features(segment: np.ndarray) -> np.ndarray:
    """DNSMOS P.808's input: ``(librosa.power_to_db(melspec, ref=np.max) + 40) / 40``, transposed
    to (frames, 120), for a float32 segment at 16 kHz (centred frames, zero padding)."""
    padded = np.pad(segment, _N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    # librosa windows in float64 and stores the STFT as complex64 for float32 input.
    spectrum = np.fft.rfft(_WINDOW * frames, axis=-1).astype(np.complex64).T
    power = np.abs(spectrum) ** 2
    mel = np.einsum("ft,mf->mt", power, _MEL, optimize=True)
    amin = 1e-10
    log_spec = 10.0 * np.log10(np.maximum(amin, mel))
    log_spec -= 10.0 * np.log10(np.maximum(amin, np.max(mel)))
    log_spec = np.maximum(log_spec, log_spec.max() - 80.0)
    return ((log_spec + 40) / 40).T


def dnsmos_segments(signal: np.ndarray) -> list[np.ndarray]:
    """speechmos's segmentation: the signal repeated until 9.01 s long, then 9.01-s windows
    with a 1-s hop (float32)."""
    audio = signal.astype(np.float32)
    length = int(DNSMOS_SEGMENT_S * MOS_RATE)
    while len(audio) < length:
        audio = np.append(audio, audio)
    hops = int(np.floor(len(audio) / MOS_RATE) - DNSMOS_SEGMENT_S) + 1
    out = []
    for idx in range(hops):
        start, stop = int(idx * MOS_RATE), int((idx + DNSMOS_SEGMENT_S) * MOS_RATE)
        segment = audio[start:stop]
        if len(segment) == length:
            out.append(segment)
    return out


def _digest(signal: np.ndarray) -> str:
    return hashlib.blake2b(signal.tobytes(), digest_size=16).hexdigest()


def p835_scores(signal: np.ndarray) -> tuple[float, float, float]:
    """(SIG, BAK, OVRL): the calibrated P.835 model averaged over the segments. The last
    signal's scores are kept, so the three metrics cost one model run per signal."""
    global _last_p835
    key = _digest(signal)
    cached = _last_p835
    if cached is not None and cached[0] == key:
        return cached[1]
    model = session("dnsmos_models/sig_bak_ovr.onnx")
    parts: dict[str, list[Any]] = {"sig": [], "bak": [], "ovrl": []}
    for segment in dnsmos_segments(signal):
        raw = model.run(None, {"input_1": segment[np.newaxis, :]})[0][0]
        for name, value in zip(parts, raw, strict=True):
            parts[name].append(_POLY[name](value))
    # np.mean of each list, as speechmos does (the values' dtypes decide the last bit).
    means = tuple(float(np.mean(values)) for values in parts.values())
    _last_p835 = (key, means)  # type: ignore[assignment]
    return means  # type: ignore[return-value]


def p808_score(signal: np.ndarray) -> float:
    """DNSMOS P.808, averaged over the segments (the model sees each segment but its last
    10 ms, as in speechmos)."""
    model = session("dnsmos_models/model_v8.onnx")
    values = [
        model.run(None, {"input_1": p808_features(seg[:-_HOP]).astype(np.float32)[np.newaxis]})[0][
            0
        ][0]
        for seg in dnsmos_segments(signal)
    ]
    return float(np.mean(values))


def plcmos_score(signal: np.ndarray) -> float:
    """PLCMOS v2 with rater embeddings drawn from :data:`PLCMOS_SEED`."""
    from speechmos.plcmos import PLCMOS  # numpy + onnxruntime only

    # Its STFT methods, without running __init__ (which builds a multi-threaded session).
    features = PLCMOS.__new__(PLCMOS).stft_transform(signal)
    features = np.float32(features)[np.newaxis, np.newaxis]
    model = session("plcmos_models/plcmos_v2.onnx")
    rng = np.random.RandomState(PLCMOS_SEED)
    total = 0.0
    for _ in range(PLCMOS_ROUNDS):
        embed = np.array(rng.normal(size=(1, 64)), dtype=np.float32).reshape(1, -1)
        out = model.run(None, {"degraded_audio": features, "rater_embed": embed})[0]
        total += float(np.asarray(out).reshape(-1)[0])
    return total / PLCMOS_ROUNDS


class _Mos(ReferenceFreeMetric):
    # Not in the default set: on LibriSpeech DNSMOS costs twice the CPU of every default speech
    # metric together (benchmarks/bench_mos.py); name them to compute them.
    default: ClassVar[bool] = False
    rate: ClassVar[int | None] = MOS_RATE
    channels: ClassVar[str] = "mono"
    domain: ClassVar[str] = "speech"
    unit: ClassVar[str] = "MOS"
    min_duration: ClassVar[float] = MOS_MIN_SECONDS
    libraries: ClassVar[tuple[str, ...]] = ("speechmos", "onnxruntime", "numpy")

    def _signal(self, audio: Audio) -> np.ndarray:
        return np.clip(audio.samples[0], -1.0, 1.0)


class _P835(_Mos):
    part: ClassVar[int] = 0

    def _score_signal(self, signal: Audio) -> MetricResult:
        return MetricResult(p835_scores(self._signal(signal))[self.part])


@register_metric
class DnsmosSig(_P835):
    name = "dnsmos_sig"
    part = 0
    description = "DNSMOS P.835 speech signal quality (speechmos, 16 kHz), no reference, 1..5"


@register_metric
class DnsmosBak(_P835):
    name = "dnsmos_bak"
    part = 1
    description = "DNSMOS P.835 background-noise quality (speechmos, 16 kHz), no reference, 1..5"


@register_metric
class DnsmosOvrl(_P835):
    name = "dnsmos_ovrl"
    part = 2
    description = "DNSMOS P.835 overall quality (speechmos, 16 kHz), no reference, 1..5"


@register_metric
class DnsmosP808(_Mos):
    name = "dnsmos_p808"
    description = "DNSMOS P.808 overall quality (speechmos, 16 kHz), no reference, 1..5"

    def _score_signal(self, signal: Audio) -> MetricResult:
        return MetricResult(p808_score(self._signal(signal)))


@register_metric
class Plcmos(_Mos):
    name = "plcmos"
    description = (
        "PLCMOS v2, packet-loss-concealment quality (speechmos, 16 kHz), no reference, 1..5"
    )

    def _score_signal(self, signal: Audio) -> MetricResult:
        return MetricResult(plcmos_score(self._signal(signal)))
