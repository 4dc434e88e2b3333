"""ViSQOL's per-pair pipeline rebuilt from visqol-python's parts, several times faster, same values.

:mod:`bench.metrics.visqol_split` calls this module when numba is available. Each function here
mirrors one visqol-python 3.8.0 function (named in its docstring) and gives a bit-identical
result; the savings come from not repeating work whose inputs are the same:

* gammatone spectrograms come from :func:`bench.metrics.visqol_kernels.gammatone_spectrogram`
  (frames filtered side by side), and a fine-realignment slice that starts on the analysis
  hop grid of its signal is cut from that signal's full spectrogram instead of rebuilt:
  visqol-python's filterbank restarts from zero state at every frame, so such a slice's frames
  are, sample for sample, frames of the full signal (checked, not assumed: the slice's samples
  are compared with the signal's before any column is reused);
* the patch search uses :func:`bench.metrics.visqol_kernels.dp_patch_search`;
* cross-correlation alignment (global, then once per patch in fine realignment) computes the
  reference side once per clip: the reference envelope and its FFT, and per reference patch the
  slice's envelope and FFT, keyed by position, length and FFT size;
* speech mode's voice-activity detector converts samples to int16 with one array operation
  instead of a Python loop per sample (same rounding: clamp, then truncate toward zero).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Bytes of reference-side arrays (envelopes, FFTs, spectrograms) kept per clip. A 5-s clip
#: needs about 10 MB in audio mode (the global-alignment FFT alone is 4 MB); degraded versions
#: of other lengths add entries, so the memo stops growing here rather than at a count.
CACHE_BYTES = 64 * 1024 * 1024

_coefficients: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def available() -> bool:
    """Whether numba can be imported (visqol-python then uses its numba path too)."""
    from visqol.numba_accel import has_numba

    return bool(has_numba())


def _filter_coefficients(builder: Any, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(b_stages, a_denom, ordered centre frequencies)`` exactly as
    ``GammatoneSpectrogramBuilder.build`` and ``_build_numba`` derive them."""
    from visqol.gammatone import SPEECH_MODE_MAX_FREQ, make_erb_filters

    bank = builder.filter_bank
    key = (rate, bank.num_bands, bank.min_freq, builder.speech_mode)
    cached = _coefficients.get(key)
    if cached is None:
        max_freq = SPEECH_MODE_MAX_FREQ if builder.speech_mode else rate / 2.0
        erb = make_erb_filters(rate, bank.num_bands, bank.min_freq, max_freq)
        a0, a11, a12, a13, a14, a2, b0, b1, b2, gain = erb.filter_coeffs[:, ::-1]
        b_stages = np.ascontiguousarray(
            np.stack(
                [
                    np.column_stack([a0 / gain, a11 / gain, a2 / gain]),
                    np.column_stack([a0, a12, a2]),
                    np.column_stack([a0, a13, a2]),
                    np.column_stack([a0, a14, a2]),
                ],
                axis=0,
            ),
            dtype=np.float64,
        )
        a_denom = np.ascontiguousarray(np.column_stack([b0, b1, b2]), dtype=np.float64)
        cached = (b_stages, a_denom, erb.center_freqs[::-1].copy())
        _coefficients[key] = cached
    return cached


def build_spectrogram(builder: Any, data: np.ndarray, rate: int, window: Any) -> Any:
    """``builder.build(AudioSignal(data, rate), window)``, with the faster kernel."""
    from visqol.gammatone import Spectrogram

    from bench.metrics.visqol_kernels import gammatone_spectrogram

    b_stages, a_denom, centre_freqs = _filter_coefficients(builder, rate)
    hop_size = int(window.size * window.overlap)
    if len(data) <= window.size:
        raise ValueError(
            f"Too few samples ({len(data)}) to build spectrogram ({window.size} required minimum)."
        )
    num_cols = 1 + int(np.floor((len(data) - window.size) / hop_size))
    out = gammatone_spectrogram(
        np.ascontiguousarray(data, dtype=np.float64),
        np.ascontiguousarray(window.hann_window, dtype=np.float64),
        b_stages,
        a_denom,
        window.size,
        hop_size,
        builder.filter_bank.num_bands,
        num_cols,
    )
    return Spectrogram(out, center_freq_bands=centre_freqs.copy())


@dataclass
class SignalSpectrogram:
    """A signal and its full gammatone spectrogram: slices on the hop grid are cut from it."""

    data: np.ndarray
    rate: int
    spectrogram: Any  # visqol.gammatone.Spectrogram of ``data``
    reused: int = 0
    built: int = 0

    def slice(self, builder: Any, part: np.ndarray, start: int | None, window: Any) -> Any:
        """The spectrogram of ``part``, which may be ``data[start:start + len(part)]``."""
        from visqol.gammatone import Spectrogram

        hop = int(window.size * window.overlap)
        if (
            start is not None
            and start >= 0
            and start % hop == 0
            and len(part) > window.size
            and start + len(part) <= len(self.data)
            and np.array_equal(part, self.data[start : start + len(part)])
        ):
            cols = 1 + int(np.floor((len(part) - window.size) / hop))
            first = start // hop
            self.reused += 1
            return Spectrogram(
                self.spectrogram.data[:, first : first + cols].copy(),
                center_freq_bands=self.spectrogram.center_freq_bands.copy(),
            )
        self.built += 1
        return build_spectrogram(builder, part, self.rate, window)


class _Bounded(dict):  # type: ignore[type-arg]
    """A dict of arrays (or spectrograms) that stops accepting new keys at ``budget`` bytes."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        super().__init__()
        self.budget = budget
        self.nbytes = 0

    def put(self, key: Any, value: Any) -> Any:
        size = int(getattr(getattr(value, "data", value), "nbytes", 0))
        if self.nbytes + size <= self.budget:
            self[key] = value
            self.nbytes += size
        return value


@dataclass
class ReferenceSide:
    """Reference-only alignment work, kept across a clip's degraded versions."""

    rate: int
    envelope: np.ndarray | None
    ffts: _Bounded = field(default_factory=_Bounded)  # (key, fft size) -> rfft of envelope
    slice_envelopes: _Bounded = field(default_factory=_Bounded)  # (start, length) -> envelope
    slice_spectrograms: _Bounded = field(default_factory=_Bounded)  # content digest -> spec


def _rfft(values: np.ndarray, n: int, fft_points: int) -> np.ndarray:
    from scipy.fft import rfft
    from visqol.signal_utils import _fft_backend

    padded = np.zeros(n)
    padded[: len(values)] = values
    with _fft_backend():
        return rfft(padded, n=fft_points)


def find_best_lag(ref_env: np.ndarray, deg_env: np.ndarray, ffts: _Bounded | None, key: Any) -> int:
    """``visqol.signal_utils.find_best_lag``, the reference's FFT memoised under ``key``."""
    from scipy.fft import irfft
    from visqol.signal_utils import _fft_backend

    max_lag = max(len(ref_env), len(deg_env)) - 1
    n = max(len(ref_env), len(deg_env))
    fft_points = 1
    while fft_points < 2 * n - 1:
        fft_points *= 2
    fft_ref = None if ffts is None else ffts.get((key, n, fft_points))
    if fft_ref is None:
        fft_ref = _rfft(ref_env, n, fft_points)
        if ffts is not None:
            ffts.put((key, n, fft_points), fft_ref)
    fft_deg = _rfft(deg_env, n, fft_points)
    with _fft_backend():
        pointwise = fft_ref * np.conj(fft_deg)
        xcorr_full = irfft(pointwise, n=fft_points)
    corrs = np.concatenate((xcorr_full[-max_lag:], xcorr_full[: max_lag + 1]))
    return int(np.argmax(corrs)) - max_lag


def globally_align(ref: ReferenceSide, reference: np.ndarray, degraded: np.ndarray) -> np.ndarray:
    """The degraded samples ``visqol.alignment.globally_align`` returns (whole signals)."""
    from visqol.signal_utils import upper_envelope

    assert ref.envelope is not None
    best_lag = find_best_lag(ref.envelope, upper_envelope(degraded), ref.ffts, "global")
    if best_lag == 0 or abs(best_lag) > len(reference) / 2.0:
        return degraded
    if best_lag < 0:
        return np.asarray(degraded[abs(best_lag) :], dtype=np.float64)
    return np.concatenate([np.zeros(best_lag), degraded])


def _slice(data: np.ndarray, rate: int, start_time: float, end_time: float) -> tuple[Any, Any]:
    """``visqol.patch_selector.slice_signal``'s samples, and where they start in ``data``
    (None when silence was added)."""
    start_index = max(0, int(start_time * rate))
    end_index = min(len(data) - 1, int(end_time * rate))
    sliced = data[start_index:end_index].copy()
    start: int | None = start_index
    end_time_diff = end_time * rate - len(data)
    if end_time_diff > 0:
        sliced = np.concatenate([np.zeros(int(end_time_diff)), sliced])
        start = None
    if start_time < 0:
        sliced = np.concatenate([np.zeros(int(-start_time * rate)), sliced])
        start = None
    return sliced, start


def _align_and_truncate(
    ref: ReferenceSide, ref_part: np.ndarray, ref_key: Any, deg_part: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, int, int | None]:
    """``visqol.alignment.align_and_truncate`` on two slices, the reference slice's envelope
    and FFT memoised under ``ref_key``. Also returns where the results start in the slices
    (``None`` for the degraded one when it begins with added zeros)."""
    from visqol.signal_utils import upper_envelope

    rate = ref.rate
    ref_env = ref.slice_envelopes.get(ref_key)
    if ref_env is None:
        ref_env = ref.slice_envelopes.put(ref_key, upper_envelope(ref_part))
    best_lag = find_best_lag(ref_env, upper_envelope(deg_part), ref.ffts, ref_key)
    deg_start: int | None = 0
    if best_lag == 0 or abs(best_lag) > len(ref_part) / 2.0:
        aligned, lag_seconds = deg_part, 0.0
    else:
        lag_seconds = best_lag / float(rate)
        if best_lag < 0:
            aligned = deg_part[abs(best_lag) :]
            deg_start = abs(best_lag)
        else:
            aligned = np.concatenate([np.zeros(best_lag), deg_part])
            deg_start = -best_lag  # the first best_lag samples are zeros
    ref_data, deg_data, ref_start = ref_part, aligned, 0
    if len(ref_data) > len(deg_data):
        ref_data = ref_data[: len(deg_data)]
    elif len(ref_data) < len(deg_data):
        lag_samples = int(lag_seconds * rate)
        if lag_samples > 0:
            ref_data = ref_data[lag_samples:]
            ref_start = lag_samples
            deg_data = deg_data[lag_samples : lag_samples + len(ref_data)]
            deg_start += lag_samples
        else:
            deg_data = deg_data[: len(ref_data)]
    min_len = min(len(ref_data), len(deg_data))
    return (
        ref_data[:min_len],
        deg_data[:min_len],
        lag_seconds,
        ref_start,
        deg_start if deg_start >= 0 else None,
    )


def find_most_optimal_deg_patches(
    ref_patches: list[np.ndarray],
    ref_patch_indices: list[int],
    spectrogram_data: np.ndarray,
    frame_duration: float,
    search_window_radius: int,
) -> list[Any]:
    """``visqol.patch_selector.find_most_optimal_deg_patches`` (its numba path)."""
    from visqol.nsim import PatchSimilarityResult
    from visqol.numba_accel import (
        _C1,
        _C3,
        _GW,
        _build_deg_patch,
        _dp_backtrace,
        _measure_patch_similarity_numba,
    )
    from visqol.patch_selector import _calc_max_num_patches

    from bench.metrics.visqol_kernels import dp_patch_search

    num_frames_per_patch = ref_patches[0].shape[1]
    num_bands = ref_patches[0].shape[0]
    num_frames_in_deg = spectrogram_data.shape[1]
    patch_duration = frame_duration * num_frames_per_patch
    search_window = search_window_radius * num_frames_per_patch
    num_patches = _calc_max_num_patches(ref_patch_indices, num_frames_in_deg, num_frames_per_patch)
    if num_patches == 0:
        raise ValueError(
            "Degraded file was too short, different, or misaligned to score "
            "any of the reference patches."
        )
    if num_patches < len(ref_patch_indices):
        logging.getLogger("visqol.patch_selector").warning(
            "Dropping %d (of %d) reference patches due to degraded file "
            "being misaligned or too short.",
            len(ref_patch_indices) - num_patches,
            len(ref_patch_indices),
        )
    ref_patches_arr = np.ascontiguousarray(np.array(ref_patches[:num_patches], dtype=np.float64))
    ref_indices_arr = np.ascontiguousarray(np.array(ref_patch_indices, dtype=np.int64))
    deg = np.ascontiguousarray(spectrogram_data, dtype=np.float64)
    cumulative_dp, backtrace = dp_patch_search(
        ref_patches_arr, deg, ref_indices_arr, num_patches, search_window, _GW, _C1, _C3
    )
    best_offsets = _dp_backtrace(
        cumulative_dp, backtrace, ref_indices_arr, num_patches, num_frames_in_deg, search_window
    )
    results = []
    for patch_index in range(num_patches):
        offset = int(best_offsets[patch_index])
        deg_patch = _build_deg_patch(deg, offset, num_bands, num_frames_per_patch)
        sim_mean, fb_means, fb_stddevs, fb_deg_energy = _measure_patch_similarity_numba(
            ref_patches[patch_index], deg_patch, _GW, _C1, _C3
        )
        result = PatchSimilarityResult(
            similarity=float(sim_mean),
            freq_band_means=fb_means,
            freq_band_stddevs=fb_stddevs,
            freq_band_deg_energy=fb_deg_energy,
        )
        if offset == backtrace[patch_index, offset]:
            result.deg_patch_start_time = 0.0
            result.deg_patch_end_time = 0.0
            result.similarity = 0.0
            result.freq_band_means = np.zeros(num_bands)
        else:
            result.deg_patch_start_time = offset * frame_duration
            result.deg_patch_end_time = result.deg_patch_start_time + patch_duration
        result.ref_patch_start_time = ref_patch_indices[patch_index] * frame_duration
        result.ref_patch_end_time = result.ref_patch_start_time + patch_duration
        results.append(result)
    return results


def _ref_slice_spectrogram(
    ref: ReferenceSide,
    full: SignalSpectrogram,
    builder: Any,
    part: np.ndarray,
    start: int | None,
    window: Any,
) -> Any:
    """A reference slice's spectrogram: cut from the full one, or built once per content."""
    import hashlib

    hop = int(window.size * window.overlap)
    if start is not None and start % hop == 0:
        return full.slice(builder, part, start, window)
    digest = hashlib.blake2b(np.ascontiguousarray(part).view(np.uint8), digest_size=20).digest()
    key = (len(part), digest)
    cached = ref.slice_spectrograms.get(key)
    if cached is None:
        cached = ref.slice_spectrograms.put(key, full.slice(builder, part, None, window))
    return cached


def finely_align_and_recreate_patches(
    sim_results: list[Any],
    ref: ReferenceSide,
    ref_full: SignalSpectrogram,
    deg_full: SignalSpectrogram,
    builder: Any,
    window: Any,
) -> list[Any]:
    """``visqol.patch_selector.finely_align_and_recreate_patches``."""
    from visqol.gammatone import prepare_spectrograms_for_comparison
    from visqol.nsim import measure_patch_similarity

    rate = ref.rate
    realigned = list(sim_results)
    for i, sim_result in enumerate(sim_results):
        if (
            sim_result.deg_patch_start_time == sim_result.deg_patch_end_time
            and sim_result.deg_patch_start_time == 0.0
        ):
            continue
        ref_part, ref_at = _slice(
            ref_full.data, rate, sim_result.ref_patch_start_time, sim_result.ref_patch_end_time
        )
        deg_part, deg_at = _slice(
            deg_full.data, rate, sim_result.deg_patch_start_time, sim_result.deg_patch_end_time
        )
        ref_key = ("slice", ref_at, len(ref_part)) if ref_at is not None else None
        try:
            if ref_key is None:  # zero-padded reference slice: nothing to share
                ref_scratch = ReferenceSide(rate, None)
                aligned = _align_and_truncate(ref_scratch, ref_part, "x", deg_part)
            else:
                aligned = _align_and_truncate(ref, ref_part, ref_key, deg_part)
        except Exception:
            continue
        ref_aligned, deg_aligned, lag, ref_off, deg_off = aligned
        if len(ref_aligned) <= window.size or len(deg_aligned) <= window.size:
            continue
        try:
            ref_spec = _ref_slice_spectrogram(
                ref,
                ref_full,
                builder,
                ref_aligned,
                None if ref_at is None else ref_at + ref_off,
                window,
            )
            deg_spec = deg_full.slice(
                builder,
                deg_aligned,
                None if deg_at is None or deg_off is None else deg_at + deg_off,
                window,
            )
        except (ValueError, Exception):
            continue
        ref_db, deg_db = prepare_spectrograms_for_comparison(ref_spec, deg_spec)
        new_sim = measure_patch_similarity(ref_db, deg_db)
        if new_sim.similarity < sim_result.similarity:
            realigned[i] = sim_result
        else:
            new_ref_duration = len(ref_aligned) / rate
            new_deg_duration = len(deg_aligned) / rate
            if lag > 0:
                new_sim.ref_patch_start_time = sim_result.ref_patch_start_time + lag
                new_sim.deg_patch_start_time = sim_result.deg_patch_start_time
            else:
                new_sim.ref_patch_start_time = sim_result.ref_patch_start_time
                new_sim.deg_patch_start_time = sim_result.deg_patch_start_time - lag
            new_sim.ref_patch_end_time = new_sim.ref_patch_start_time + new_ref_duration
            new_sim.deg_patch_end_time = new_sim.deg_patch_start_time + new_deg_duration
            realigned[i] = new_sim
    return realigned


def vad_patch_indices(creator: Any, spectrogram: np.ndarray, signal: Any, window: Any) -> list[int]:
    """``VadPatchCreator.create_ref_patch_indices`` with the int16 conversion vectorised."""
    from visqol.patch_creator import RmsVad
    from visqol.signal_utils import normalize

    norm_data = normalize(signal.data)
    frame_size = int(window.size * window.overlap)
    patch_sample_len = creator.patch_size * frame_size
    spectrum_length = spectrogram.shape[1]
    first_patch_idx = creator.patch_size // 2 - 1
    patch_count = (spectrum_length - first_patch_idx) // creator.patch_size
    total_sample_count = patch_count * patch_sample_len

    data = norm_data[first_patch_idx : first_patch_idx + total_sample_count]
    # Per sample, as visqol-python's loop: x * 2**15 clamped to [-2**15, 2**15 - 1], then int()
    # (truncation toward zero); an incomplete last chunk is never processed.
    scaled = np.minimum(1.0 * ((1 << 15) - 1), data * (1 << 15))
    scaled = np.maximum(-1.0 * (1 << 15), scaled)
    chunks = len(data) // frame_size
    ints = np.trunc(scaled[: chunks * frame_size]).astype(np.int16)
    vad = RmsVad()
    for c in range(chunks):
        vad.process_chunk(ints[c * frame_size : (c + 1) * frame_size])
    vad_res = vad.get_vad_results()

    indices = []
    patch_idx = first_patch_idx
    for i in range(patch_count):
        start = i * creator.patch_size
        end = start + creator.patch_size
        patch_vad = vad_res[start:end] if end <= len(vad_res) else vad_res[start:]
        if sum(patch_vad) >= creator.FRAMES_WITH_VA_THRESHOLD:
            indices.append(patch_idx)
        patch_idx += creator.patch_size
    return indices
