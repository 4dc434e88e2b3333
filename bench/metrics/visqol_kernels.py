"""numba kernels that compute exactly what visqol-python's own kernels compute, faster.

Each kernel performs, for every output value, the same IEEE-754 operations in the same order as
the visqol-python 3.8.0 function it replaces, so results are bit-identical (no ``fastmath``:
LLVM may not reorder or fuse them). They are faster because independent computations are laid
side by side, where the processor (and LLVM's vectoriser) can run them at once:

:func:`gammatone_spectrogram`
    ``numba_accel._gammatone_spectrogram_numba``. Every frame restarts the 4-stage IIR cascade
    from zero state, so frames are independent chains. visqol-python runs one chain at a time,
    which is bound by the latency of the recursion (about 12 cycles per sample and band); here
    :data:`FRAME_LANES` frames of one band advance together, one sample at a time.

:func:`dp_patch_search`
    ``numba_accel._dp_forward_pass``: NSIM of one reference patch against the degraded patch at
    every offset of the search window, then the dynamic-programming step (prefix maxima, legacy
    rightmost-tie rule). The reference-only terms (local means and variances) are computed once
    per patch (as visqol-python does), the degraded-only terms once per spectrogram column
    instead of once per (patch, offset) pair (:func:`degraded_local_terms`: a degraded patch is
    a window of the zero-extended spectrogram, so away from the patch's first and last column
    its 3x3 neighbourhood is the spectrogram's), and only the cross term per pair; offsets are
    the innermost loop, each with its own running sums, so per-offset summation order is kept.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Frames filtered side by side in :func:`gammatone_spectrogram` (32 measured fastest of 8-64).
FRAME_LANES = 32


@njit(cache=True)
def gammatone_spectrogram(
    sig: np.ndarray,
    hann_window: np.ndarray,
    b_stages: np.ndarray,
    a_denom: np.ndarray,
    window_size: int,
    hop_size: int,
    num_bands: int,
    num_cols: int,
) -> np.ndarray:
    """Same arguments and result as visqol-python's ``_gammatone_spectrogram_numba``."""
    lanes = FRAME_LANES
    out = np.zeros((num_bands, num_cols), dtype=np.float64)
    frames = np.zeros((window_size, lanes), dtype=np.float64)
    state = np.empty((9, lanes), dtype=np.float64)
    for first in range(0, num_cols, lanes):
        count = min(lanes, num_cols - first)
        for k in range(window_size):
            for f in range(count):
                frames[k, f] = sig[(first + f) * hop_size + k] * hann_window[k]
            for f in range(count, lanes):
                frames[k, f] = 0.0  # unused lanes: zeros, never stale data or denormals
        for chan in range(num_bands):
            a1, a2 = a_denom[chan, 1], a_denom[chan, 2]
            b00, b01, b02 = b_stages[0, chan, 0], b_stages[0, chan, 1], b_stages[0, chan, 2]
            b10, b11, b12 = b_stages[1, chan, 0], b_stages[1, chan, 1], b_stages[1, chan, 2]
            b20, b21, b22 = b_stages[2, chan, 0], b_stages[2, chan, 1], b_stages[2, chan, 2]
            b30, b31, b32 = b_stages[3, chan, 0], b_stages[3, chan, 1], b_stages[3, chan, 2]
            state[:] = 0.0
            z00, z01, z10, z11 = state[0], state[1], state[2], state[3]
            z20, z21, z30, z31 = state[4], state[5], state[6], state[7]
            energy = state[8]
            for k in range(window_size):
                for f in range(lanes):
                    x = frames[k, f]
                    y0 = b00 * x + z00[f]
                    z00[f] = b01 * x - a1 * y0 + z01[f]
                    z01[f] = b02 * x - a2 * y0
                    y1 = b10 * y0 + z10[f]
                    z10[f] = b11 * y0 - a1 * y1 + z11[f]
                    z11[f] = b12 * y0 - a2 * y1
                    y2 = b20 * y1 + z20[f]
                    z20[f] = b21 * y1 - a1 * y2 + z21[f]
                    z21[f] = b22 * y1 - a2 * y2
                    y3 = b30 * y2 + z30[f]
                    z30[f] = b31 * y2 - a1 * y3 + z31[f]
                    z31[f] = b32 * y2 - a2 * y3
                    energy[f] += y3 * y3
            for f in range(count):
                out[chan, first + f] = np.sqrt(energy[f] / window_size)
    return out


@njit(cache=True)
def _neighbourhood_sums(
    ext: np.ndarray, gw: np.ndarray, first: int, last: int, left: int, right: int
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sums of ``ext`` and ``ext**2`` over 3x3 neighbourhoods centred on columns
    ``first..last``, rows clamped, columns ``j-1, j, j+1`` replaced by ``j+left, j, j+right``
    (``left``/``right`` are -1/+1 inside a patch, 0 on the patch edge that replicates its
    column). Output column ``j - first``; kernel order row-major as in visqol-python."""
    rows = ext.shape[0]
    width = last - first + 1
    means = np.empty((rows, width), dtype=np.float64)
    squares = np.empty((rows, width), dtype=np.float64)
    for row in range(rows):
        for kernel_row in range(3):
            source_row = row + kernel_row - 1
            if source_row < 0:
                source_row = 0
            elif source_row >= rows:
                source_row = rows - 1
            w0, w1, w2 = gw[kernel_row, 0], gw[kernel_row, 1], gw[kernel_row, 2]
            for j in range(width):
                col = first + j
                v0 = ext[source_row, col + left]
                v1 = ext[source_row, col]
                v2 = ext[source_row, col + right]
                if kernel_row == 0:
                    m = 0.0 + w0 * v0
                    s = 0.0 + w0 * (v0 * v0)
                else:
                    m = means[row, j] + w0 * v0
                    s = squares[row, j] + w0 * (v0 * v0)
                m += w1 * v1
                s += w1 * (v1 * v1)
                m += w2 * v2
                s += w2 * (v2 * v2)
                means[row, j] = m
                squares[row, j] = s
    return means, squares


@njit(cache=True)
def degraded_local_terms(
    deg: np.ndarray, patch_width: int, gw: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The degraded spectrogram zero-extended by ``patch_width`` columns (as visqol-python's
    ``_build_deg_patch`` pads) and its degraded-only NSIM sums: for patch columns
    ``1..patch_width-2`` at offset ``o`` they are ``inner[:, o + c - 1]``, for column 0
    ``left[:, o]`` and for the last column ``right[:, o]``."""
    rows, frames = deg.shape
    ext = np.zeros((rows, frames + patch_width), dtype=np.float64)
    ext[:, :frames] = deg
    inner_m, inner_s = _neighbourhood_sums(ext, gw, 1, frames + patch_width - 2, -1, 1)
    left_m, left_s = _neighbourhood_sums(ext, gw, 0, frames - 1, 0, 1)
    right_m, right_s = _neighbourhood_sums(
        ext, gw, patch_width - 1, frames + patch_width - 2, -1, 0
    )
    return ext, inner_m, inner_s, left_m, left_s, right_m, right_s


# error_model="numpy": numba's default ("python") checks every division for a zero divisor to
# raise ZeroDivisionError, and that check keeps LLVM from vectorising the offset loop. Both
# divisors here are >= c1 or c3 > 0, so no division can be by zero and the results are the same.
@njit(cache=True, error_model="numpy")
def _patch_similarities(
    ref_patch: np.ndarray,
    mu_r: np.ndarray,
    sigma_r_sq: np.ndarray,
    terms: tuple,
    low: int,
    high: int,
    gw: np.ndarray,
    c1: float,
    c3: float,
    out: np.ndarray,
    band: np.ndarray,
) -> None:
    """``out[o - low]`` = visqol-python's ``_mean_patch_similarity_with_ref_stats`` of
    ``ref_patch`` against the degraded patch at offset ``o``, for ``o`` in ``low..high``."""
    ext, inner_m, inner_s, left_m, left_s, right_m, right_s = terms
    rows, cols = ref_patch.shape
    count = high - low + 1
    for o in range(count):
        out[o] = 0.0
    for row in range(rows):
        r0 = row - 1 if row > 0 else 0
        r2 = row + 1 if row < rows - 1 else rows - 1
        e0, e1, e2 = ext[r0], ext[row], ext[r2]
        for o in range(count):
            band[o] = 0.0
        for col in range(cols):
            k0 = col - 1 if col > 0 else 0
            k2 = col + 1 if col < cols - 1 else cols - 1
            if col == 0:
                mean_row, square_row, shift = left_m[row], left_s[row], 0
            elif col == cols - 1:
                mean_row, square_row, shift = right_m[row], right_s[row], 0
            else:
                mean_row, square_row, shift = inner_m[row], inner_s[row], col - 1
            # tap weights and reference values, kernel order (row-major)
            w00, w01, w02 = gw[0, 0], gw[0, 1], gw[0, 2]
            w10, w11, w12 = gw[1, 0], gw[1, 1], gw[1, 2]
            w20, w21, w22 = gw[2, 0], gw[2, 1], gw[2, 2]
            q00, q01, q02 = ref_patch[r0, k0], ref_patch[r0, col], ref_patch[r0, k2]
            q10, q11, q12 = ref_patch[row, k0], ref_patch[row, col], ref_patch[row, k2]
            q20, q21, q22 = ref_patch[r2, k0], ref_patch[r2, col], ref_patch[r2, k2]
            mean_ref = mu_r[row, col]
            ref_mean_sq = mean_ref * mean_ref
            ref_var = sigma_r_sq[row, col]
            # views starting at offset ``low``: the loop below indexes them with o >= 0 only,
            # so numba emits no negative-index wraparound and LLVM vectorises it
            d00, d01, d02 = e0[low + k0 :], e0[low + col :], e0[low + k2 :]
            d10, d11, d12 = e1[low + k0 :], e1[low + col :], e1[low + k2 :]
            d20, d21, d22 = e2[low + k0 :], e2[low + col :], e2[low + k2 :]
            means = mean_row[low + shift :]
            squares = square_row[low + shift :]
            for o in range(count):
                cross = 0.0 + w00 * (q00 * d00[o])
                cross += w01 * (q01 * d01[o])
                cross += w02 * (q02 * d02[o])
                cross += w10 * (q10 * d10[o])
                cross += w11 * (q11 * d11[o])
                cross += w12 * (q12 * d12[o])
                cross += w20 * (q20 * d20[o])
                cross += w21 * (q21 * d21[o])
                cross += w22 * (q22 * d22[o])
                mean_deg = means[o]
                deg_mean_sq = mean_deg * mean_deg
                mean_cross = mean_ref * mean_deg
                deg_variance = squares[o] - deg_mean_sq
                covariance = cross - mean_cross
                intensity = (2.0 * mean_cross + c1) / (ref_mean_sq + deg_mean_sq + c1)
                variance_product = ref_var * deg_variance
                # sqrt(max(vp, 0)) + c3 is c3 for vp < 0, as visqol-python's branch gives (a NaN
                # vp would differ, but NaN/inf signals are rejected before any metric runs)
                denominator = np.sqrt(max(variance_product, 0.0)) + c3
                band[o] += intensity * ((covariance + c3) / denominator)
        for o in range(count):
            out[o] += band[o] / cols
    for o in range(count):
        out[o] = out[o] / rows


@njit(cache=True)
def _reference_local_stats(ref_patch: np.ndarray, gw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """visqol-python's ``_reference_local_stats`` (kept here so a kernel can call it)."""
    rows, cols = ref_patch.shape
    mu_r = np.empty((rows, cols), dtype=np.float64)
    sigma_r_sq = np.empty((rows, cols), dtype=np.float64)
    for row in range(rows):
        for col in range(cols):
            mean_sum = 0.0
            square_sum = 0.0
            for kernel_row in range(3):
                source_row = row + kernel_row - 1
                if source_row < 0:
                    source_row = 0
                elif source_row >= rows:
                    source_row = rows - 1
                for kernel_col in range(3):
                    source_col = col + kernel_col - 1
                    if source_col < 0:
                        source_col = 0
                    elif source_col >= cols:
                        source_col = cols - 1
                    weight = gw[kernel_row, kernel_col]
                    value = ref_patch[source_row, source_col]
                    mean_sum += weight * value
                    square_sum += weight * (value * value)
            mu_r[row, col] = mean_sum
            sigma_r_sq[row, col] = square_sum - mean_sum * mean_sum
    return mu_r, sigma_r_sq


@njit(cache=True)
def dp_patch_search(
    ref_patches: np.ndarray,
    deg: np.ndarray,
    ref_patch_indices: np.ndarray,
    num_patches: int,
    search_window: int,
    gw: np.ndarray,
    c1: float,
    c3: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Same result as visqol-python's ``_dp_forward_pass`` on ``_build_all_deg_patches(deg)``:
    ``(cumulative_dp, backtrace)``, shape ``(len(ref_patch_indices), deg.shape[1])``."""
    num_ref_patches = ref_patch_indices.shape[0]
    num_frames_in_deg = deg.shape[1]
    patch_width = ref_patches.shape[2]
    terms = degraded_local_terms(deg, patch_width, gw)
    cumulative_dp = np.zeros((num_ref_patches, num_frames_in_deg), dtype=np.float64)
    backtrace = np.full((num_ref_patches, num_frames_in_deg), -1, dtype=np.int64)
    prefix_value = np.empty(num_frames_in_deg, dtype=np.float64)
    prefix_index = np.empty(num_frames_in_deg, dtype=np.int64)
    sims = np.empty(num_frames_in_deg, dtype=np.float64)
    band = np.empty(num_frames_in_deg, dtype=np.float64)

    for patch_index in range(num_patches):
        ref_frame_index = ref_patch_indices[patch_index]
        low = max(0, ref_frame_index - search_window)
        high = min(num_frames_in_deg - 1, ref_frame_index + search_window)
        ref_patch = ref_patches[patch_index]
        mu_r, sigma_r_sq = _reference_local_stats(ref_patch, gw)
        _patch_similarities(ref_patch, mu_r, sigma_r_sq, terms, low, high, gw, c1, c3, sims, band)

        if patch_index > 0:
            lower_limit = max(0, ref_patch_indices[patch_index - 1] - search_window)
            highest_sim = -1e308
            highest_offset = -1
            for offset in range(lower_limit, high + 1):
                prefix_value[offset] = highest_sim
                prefix_index[offset] = highest_offset
                previous = cumulative_dp[patch_index - 1, offset]
                if previous >= highest_sim:  # legacy reverse scan: rightmost tie wins
                    highest_sim = previous
                    highest_offset = offset

        for slide_offset in range(low, high + 1):
            sim_val = sims[slide_offset - low]
            past_slide_offset = -1
            if patch_index > 0:
                sim_val += prefix_value[slide_offset]
                past_slide_offset = prefix_index[slide_offset]
                same_offset = cumulative_dp[patch_index - 1, slide_offset]
                if same_offset > sim_val:
                    sim_val = same_offset
                    past_slide_offset = slide_offset
            cumulative_dp[patch_index, slide_offset] = sim_val
            backtrace[patch_index, slide_offset] = past_slide_offset

    return cumulative_dp, backtrace
