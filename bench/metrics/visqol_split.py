"""visqol-python with its reference-side analysis done once per clip.

``VisqolApi.measure_from_arrays(ref, deg, rate)`` redoes, for every degraded version, work that
depends on the reference alone. This module splits that pipeline
(``VisqolManager.run_from_signals`` -> ``VisqolCore.calculate_similarity``) in two:

:func:`analyse_reference` (once per clip)
    the reference's upper envelope (global alignment), its gammatone spectrogram (the most
    expensive step), and its patch indices (in speech mode these come from a per-sample Python
    voice-activity loop).

:func:`compare` (once per degraded version)
    the rest of the pipeline, calling visqol-python's own functions in the same order with the
    same arguments. Fine realignment (``finely_align_and_recreate_patches``) rebuilds gammatone
    spectrograms of short reference slices; it is given a builder that memoises spectrograms by
    the exact content of the slice, so a slice seen for an earlier degraded version is not
    rebuilt. A memoised result is the result of the same pure function on the same bytes, so
    the split changes no value: ``tests/metrics/test_visqol.py`` checks that every field of the
    result equals ``measure_from_arrays``'s exactly.

With numba available (:func:`fast_enabled`), both halves use the faster, bit-identical parts
of :mod:`bench.metrics.visqol_fast` instead of visqol-python's gammatone builder, patch search,
alignment and fine realignment.

The split mirrors visqol-python's internals, so it is enabled only for the versions it was
verified against (:data:`VERIFIED_VERSIONS`); with any other version :func:`compare` calls
``run_from_signals`` directly (correct, just without the saving).

visqol-python's numba kernels use numba's ``workqueue`` threading layer, which is not
thread-safe: every call here holds one process-wide lock, and processes (with
``NUMBA_NUM_THREADS=1``, see :func:`bench.metrics.limit_numba_threads`) give the parallelism.

Audio mode's SVR (libsvm) sums its support vectors in an OpenMP reduction whose order changes
from call to call with more than one thread: the same features then give MOS values that differ
in the last ~3e-14 (13 distinct values in 3000 predictions, measured). Every call here first
sets OpenMP to one thread for the calling thread (:func:`_single_threaded_openmp`), so values
are repeatable to the last bit.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.metrics import visqol_fast

#: visqol-python versions whose pipeline this module mirrors (checked by the identity tests).
VERIFIED_VERSIONS = ("3.8.0",)

#: ViSQOL's modes and their working rates.
MODE_RATES = {"audio": 48000, "speech": 16000}

#: Memoised reference-slice spectrograms kept per clip (each is a few kB).
SLICE_CACHE_ENTRIES = 4096

_lock = threading.RLock()
_fast_allowed = True
_apis: dict[str, Any] = {}
_gomp: Any = None


def _single_threaded_openmp() -> bool:
    """Make OpenMP regions started from this thread use one thread; True when it could.

    ``omp_set_num_threads`` sets a per-thread value, so it is called before every computation
    rather than once. It acts on the system ``libgomp.so.1``, the one libsvm links (torch ships
    and uses its own copy, so its threading is left alone).
    """
    global _gomp
    if _gomp is None:
        try:
            _gomp = ctypes.CDLL("libgomp.so.1")
        except OSError:
            _gomp = False
    if _gomp is False:
        return False
    _gomp.omp_set_num_threads(1)
    return True


def visqol_version() -> str:
    """The installed visqol-python version (from its metadata: importing the package itself
    takes over a second, which a fully cached run would pay just to build its cache keys)."""
    from bench.metrics.base import distribution_version

    found = distribution_version("visqol-python")
    if found is not None:
        return found
    import visqol

    return str(visqol.__version__)


def split_enabled() -> bool:
    """Whether the reference-side split is used with the installed visqol-python."""
    return visqol_version() in VERIFIED_VERSIONS


def fast_enabled() -> bool:
    """Whether the split uses the faster kernels of :mod:`bench.metrics.visqol_fast` (they need
    numba; without it the split calls visqol-python's pure-Python functions)."""
    return _fast_allowed and split_enabled() and visqol_fast.available()


def set_fast(allowed: bool) -> None:
    """Allow or forbid the faster kernels for references analysed from now on (benchmarks and
    tests compare both ways)."""
    global _fast_allowed
    _fast_allowed = allowed


def get_api(mode: str) -> Any:
    """This process's ``VisqolApi`` for ``mode`` (created once).

    Audio mode uses the bundled SVR model; speech mode the deep-lattice mapper, as Google's C++
    default does (``use_lattice_model=True``: a missing ``ai-edge-litert`` is an error, never a
    silent fallback to the polynomial mapping, which gives different numbers).
    """
    if mode not in MODE_RATES:
        raise ValueError(f"unknown ViSQOL mode {mode!r}; valid: {', '.join(MODE_RATES)}")
    with _lock:
        api = _apis.get(mode)
        if api is None:
            from bench.metrics import limit_numba_threads

            limit_numba_threads()
            from visqol import VisqolApi

            api = VisqolApi()
            if mode == "speech":
                api.create(mode="speech", use_lattice_model=True)
            else:
                api.create(mode="audio")
            _apis[mode] = api
        return api


def measure_direct(mode: str, reference: np.ndarray, degraded: np.ndarray) -> Any:
    """``VisqolApi.measure_from_arrays`` for ``mode``: visqol-python with no split."""
    with _lock:
        api = get_api(mode)
        _single_threaded_openmp()
        return api.measure_from_arrays(reference, degraded, MODE_RATES[mode])


def measure_files(mode: str, reference_path: str, degraded_path: str) -> Any:
    """``VisqolApi.measure`` for ``mode``: visqol-python reading the files itself (soundfile,
    channels averaged), with no split."""
    with _lock:
        api = get_api(mode)
        _single_threaded_openmp()
        return api.measure(str(reference_path), str(degraded_path))


class _SliceSpectrogramCache:
    """Stands in for ``GammatoneSpectrogramBuilder`` in fine realignment, memoising by content.

    The key is the slice's rate, the window and a BLAKE2b digest of its float64 samples, so an
    entry is only reused for bit-identical input. Cached spectrogram arrays are read-only, so a
    caller that tried to modify one would fail loudly instead of corrupting later results.
    """

    def __init__(self, builder: Any, max_entries: int = SLICE_CACHE_ENTRIES) -> None:
        self._builder = builder
        self._max_entries = max_entries
        self._entries: dict[tuple[Any, ...], Any] = {}
        self.hits = 0
        self.misses = 0

    def build(self, signal: Any, window: Any) -> Any:
        data = np.ascontiguousarray(signal.data, dtype=np.float64)
        digest = hashlib.blake2b(data.view(np.uint8), digest_size=20).digest()
        key = (signal.sample_rate, window.size, window.overlap, data.size, digest)
        cached = self._entries.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        spectrogram = self._builder.build(signal, window)
        if len(self._entries) < self._max_entries:
            spectrogram.data.setflags(write=False)
            self._entries[key] = spectrogram
        return spectrogram


@dataclass
class VisqolReference:
    """Reference-side ViSQOL analysis of one clip (see :func:`analyse_reference`)."""

    mode: str
    signal: Any  # visqol.audio_utils.AudioSignal
    split: bool
    envelope: np.ndarray | None = None
    spectrogram: Any = None  # visqol.gammatone.Spectrogram
    patch_indices: list[int] = field(default_factory=list)
    slices: _SliceSpectrogramCache | None = None
    #: Set when the faster pipeline (:mod:`bench.metrics.visqol_fast`) is used.
    side: Any = None  # visqol_fast.ReferenceSide


def analyse_reference(mode: str, reference: np.ndarray) -> VisqolReference:
    """Reference-side work for ``mode`` on a mono float array at the mode's rate."""
    from visqol.analysis_window import AnalysisWindow
    from visqol.audio_utils import AudioSignal
    from visqol.patch_creator import VadPatchCreator
    from visqol.signal_utils import upper_envelope
    from visqol.visqol_manager import OVERLAP

    with _lock:
        manager = get_api(mode)._manager
        signal = AudioSignal(reference, MODE_RATES[mode])
        if not split_enabled():
            return VisqolReference(mode, signal, split=False)
        window = AnalysisWindow(signal.sample_rate, OVERLAP)
        fast = fast_enabled()
        if fast:
            spectrogram = visqol_fast.build_spectrogram(
                manager.spect_builder, signal.data, signal.sample_rate, window
            )
        else:
            spectrogram = manager.spect_builder.build(signal, window)
        spectrogram.data.setflags(write=False)
        # Patch indices depend on the reference only: the image creator (audio mode) reads the
        # spectrogram's width, the VAD creator (speech mode) that width and the reference
        # signal. Neither reads values that prepare_spectrograms_for_comparison changes.
        creator = manager.patch_creator
        if fast and isinstance(creator, VadPatchCreator):
            indices = visqol_fast.vad_patch_indices(creator, spectrogram.data, signal, window)
        else:
            indices = creator.create_ref_patch_indices(spectrogram.data, signal, window)
        envelope = None if manager.disable_global_alignment else upper_envelope(signal.data)
        return VisqolReference(
            mode=mode,
            signal=signal,
            split=True,
            envelope=envelope,
            spectrogram=spectrogram,
            patch_indices=list(indices),
            slices=_SliceSpectrogramCache(manager.spect_builder),
            side=visqol_fast.ReferenceSide(signal.sample_rate, envelope) if fast else None,
        )


def _globally_align(ref: VisqolReference, degraded: Any) -> Any:
    """``visqol.alignment.globally_align`` with the reference envelope computed once."""
    from visqol.audio_utils import AudioSignal
    from visqol.signal_utils import find_best_lag, upper_envelope

    if ref.side is not None:
        data = visqol_fast.globally_align(ref.side, ref.signal.data, degraded.data)
        return degraded if data is degraded.data else AudioSignal(data, degraded.sample_rate)
    best_lag = find_best_lag(ref.envelope, upper_envelope(degraded.data))
    if best_lag == 0 or abs(best_lag) > len(ref.signal.data) / 2.0:
        return degraded
    if best_lag < 0:
        data = degraded.data[abs(best_lag) :]
    else:
        data = np.concatenate([np.zeros(best_lag), degraded.data])
    return AudioSignal(data, degraded.sample_rate)


def _calculate_similarity(ref: VisqolReference, degraded: Any, manager: Any) -> Any:
    """``VisqolCore.calculate_similarity`` with the reference-side steps taken from ``ref``."""
    from visqol import visqol_core as core
    from visqol.analysis_window import AnalysisWindow
    from visqol.audio_utils import scale_to_match_sound_pressure_level
    from visqol.gammatone import prepare_spectrograms_for_comparison
    from visqol.patch_selector import (
        find_most_optimal_deg_patches,
        finely_align_and_recreate_patches,
    )
    from visqol.visqol_manager import OVERLAP

    window = AnalysisWindow(ref.signal.sample_rate, OVERLAP)
    rate = ref.signal.sample_rate
    degraded = scale_to_match_sound_pressure_level(ref.signal, degraded)
    fast = ref.side is not None
    if fast:
        deg_spectrogram = visqol_fast.build_spectrogram(
            manager.spect_builder, degraded.data, rate, window
        )
    else:
        deg_spectrogram = manager.spect_builder.build(degraded, window)
    ref_db, deg_db = prepare_spectrograms_for_comparison(ref.spectrogram, deg_spectrogram)
    frame_duration = core.calc_frame_duration(int(window.size * window.overlap), rate)
    ref_patches = manager.patch_creator.create_patches_from_indices(ref_db, ref.patch_indices)
    search = visqol_fast.find_most_optimal_deg_patches if fast else find_most_optimal_deg_patches
    matches = search(ref_patches, ref.patch_indices, deg_db, frame_duration, manager.search_window)
    if not manager.disable_realignment:
        if fast:
            matches = visqol_fast.finely_align_and_recreate_patches(
                matches,
                ref.side,
                visqol_fast.SignalSpectrogram(ref.signal.data, rate, ref.spectrogram),
                visqol_fast.SignalSpectrogram(degraded.data, rate, deg_spectrogram),
                manager.spect_builder,
                window,
            )
        else:
            matches = finely_align_and_recreate_patches(
                matches, ref.signal, degraded, ref.slices, window
            )
    fvnsim = core.calc_per_patch_mean_freq_band_means(matches)
    fvnsim10 = core.calc_per_patch_freq_band_quantile(matches, 0.10)
    fstdnsim = core.calc_per_patch_mean_freq_band_stddevs(matches, frame_duration)
    fvdegenergy = core.calc_per_patch_mean_freq_band_deg_energy(matches)
    moslqo = manager.quality_mapper.predict_quality(fvnsim, fvnsim10, fstdnsim, fvdegenergy)
    vnsim = float(np.mean(fvnsim))
    moslqo = core.alter_for_similarity_extremes(vnsim, moslqo)
    return core.SimilarityResult(
        moslqo=moslqo,
        vnsim=vnsim,
        fvnsim=fvnsim,
        fvnsim10=fvnsim10,
        fstdnsim=fstdnsim,
        fvdegenergy=fvdegenergy,
        center_freq_bands=ref.spectrogram.center_freq_bands,
        patch_sims=matches,
    )


def compare(ref: VisqolReference, degraded: np.ndarray) -> Any:
    """ViSQOL's ``SimilarityResult`` for ``degraded`` (mono, the mode's rate) against ``ref``.

    Equal, field for field, to ``measure_direct(ref.mode, reference, degraded)``.
    """
    from visqol.audio_utils import AudioSignal

    with _lock:
        manager = get_api(ref.mode)._manager
        _single_threaded_openmp()
        deg_signal = AudioSignal(degraded, ref.signal.sample_rate)
        if not ref.split:
            return manager.run_from_signals(ref.signal, deg_signal)
        manager._validate_input(ref.signal, deg_signal)  # visqol's checks and warnings
        if not manager.disable_global_alignment:
            deg_signal = _globally_align(ref, deg_signal)
        return _calculate_similarity(ref, deg_signal, manager)
