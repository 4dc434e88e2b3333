"""A 44.1 kHz signal to side information and indices, and back: the codec minus the bytes.

Layout: the signal is split into normalisation blocks of ``norm_block`` samples (the last one
zero-padded, padding excluded from its min/max) and each block into frames of ``frame`` samples.
Of the ``ceil(n / frame)`` frames that hold real samples, those of *constant* blocks (digital
silence; the coded min equals the coded max) are not coded at all: the side information already
says the block is that constant, so their indices would be bits spent on nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.namc.config import NamcConfig
from bench.namc.model import NamcModel
from bench.namc.norm import bounds_from_codes, denormalise, normalise, quantise_bounds


@dataclass(frozen=True)
class Analysis:
    """What the bitstream carries for one signal: block bounds and frame indices."""

    lo_codes: np.ndarray  #: (blocks,) uint8
    hi_codes: np.ndarray  #: (blocks,) uint8
    indices: np.ndarray  #: (coded frames, codebooks) int64


def layout(samples: int, frame: int, norm_block: int) -> tuple[int, int]:
    """``(blocks, frames)`` of a signal of ``samples`` samples at 44.1 kHz."""
    return -(-samples // norm_block), -(-samples // frame)


def coded_frames(lo_codes: np.ndarray, hi_codes: np.ndarray, frames: int, per_block: int):
    """Boolean mask over the ``frames`` frames: True where the frame's block is not constant."""
    active = np.asarray(hi_codes) > np.asarray(lo_codes)
    return np.repeat(active, per_block)[:frames]


#: Samples per group of blocks processed together: small enough that every temporary stays in
#: cache and on the heap (large arrays go through mmap and page faults on every call, which
#: cost more than the network itself).
_GROUP_SAMPLES = 32768


def _group(cfg: NamcConfig) -> int:
    return max(1, _GROUP_SAMPLES // cfg.norm_block)


def analyse(model: NamcModel, signal: np.ndarray) -> Analysis:
    """Normalise ``signal`` (1-D float32 at 44.1 kHz) by blocks and encode its frames."""
    cfg = model.config
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"signal must be 1-D and non-empty, got shape {signal.shape}")
    block, per_block = cfg.norm_block, cfg.norm_block // cfg.frame
    blocks, frames = layout(signal.size, cfg.frame, block)
    full = signal.size // block
    lo, hi = np.empty(blocks, np.float32), np.empty(blocks, np.float32)
    if full:
        whole = signal[: full * block].reshape(full, block)
        lo[:full], hi[:full] = whole.min(axis=1), whole.max(axis=1)
    if blocks > full:  # the last, partial block: its real samples only
        tail = signal[full * block :]
        lo[-1], hi[-1] = tail.min(), tail.max()
    lo_codes, hi_codes = quantise_bounds(lo, hi)
    centre, half = bounds_from_codes(lo_codes, hi_codes)
    mask = coded_frames(lo_codes, hi_codes, frames, per_block)
    indices = np.empty((int(mask.sum()), cfg.codebooks), dtype=np.int64)
    done = 0
    step = _group(cfg)
    for first in range(0, blocks, step):
        last = min(first + step, blocks)
        part = signal[first * block : last * block]
        rows = np.zeros((last - first, block), dtype=np.float32)
        rows.reshape(-1)[: part.size] = part
        normed = normalise(rows, centre[first:last], half[first:last]).reshape(-1)
        # Padding is neutral in the normalised domain (the block centre), not a zero sample
        # that may lie outside the block's bounds.
        normed[part.size :] = 0.0
        span = slice(first * per_block, min(last * per_block, frames))
        chunk = normed.reshape(-1, cfg.frame)[: span.stop - span.start]
        keep = mask[span]
        if not keep.all():
            chunk = chunk[keep]
        if chunk.shape[0]:
            indices[done : done + chunk.shape[0]] = model.encode_frames(chunk)
            done += chunk.shape[0]
    return Analysis(lo_codes, hi_codes, indices)


def synthesise(model: NamcModel, analysis: Analysis, samples: int) -> np.ndarray:
    """Rebuild ``samples`` samples (float32, 44.1 kHz) from what :func:`analyse` produced."""
    cfg = model.config
    block, per_block = cfg.norm_block, cfg.norm_block // cfg.frame
    blocks, frames = layout(samples, cfg.frame, block)
    if analysis.lo_codes.shape != (blocks,) or analysis.hi_codes.shape != (blocks,):
        raise ValueError("analysis does not match the signal length")
    mask = coded_frames(analysis.lo_codes, analysis.hi_codes, frames, per_block)
    if analysis.indices.shape != (int(mask.sum()), cfg.codebooks):
        raise ValueError("analysis does not match the signal length")
    centre, half = bounds_from_codes(analysis.lo_codes, analysis.hi_codes)
    out = np.empty(samples, dtype=np.float32)
    done = 0
    step = _group(cfg)
    for first in range(0, blocks, step):
        last = min(first + step, blocks)
        normed = np.zeros(((last - first) * per_block, cfg.frame), dtype=np.float32)
        span = slice(first * per_block, min(last * per_block, frames))
        keep = mask[span]
        count = int(keep.sum())
        if count:
            decoded = model.decode_frames(analysis.indices[done : done + count])
            if keep.all():
                normed[: keep.size] = decoded
            else:
                normed[: keep.size][keep] = decoded
            done += count
        rows = denormalise(
            normed.reshape(last - first, block), centre[first:last], half[first:last]
        )
        stop = min(last * block, samples)
        out[first * block : stop] = rows.reshape(-1)[: stop - first * block]
    return out


def roundtrip(model: NamcModel, signal: np.ndarray) -> np.ndarray:
    """Encode and decode a 44.1 kHz signal (no bitstream): what a listener gets."""
    return synthesise(model, analyse(model, signal), int(np.asarray(signal).size))


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    """Signal-to-noise ratio in dB (``inf`` for an exact copy, ``nan`` for a silent reference)."""
    ref = np.asarray(reference, dtype=np.float64)
    err = ref - np.asarray(decoded, dtype=np.float64)
    signal, noise = float(np.sum(ref**2)), float(np.sum(err**2))
    if signal == 0.0:
        return float("nan")
    if noise == 0.0:
        return float("inf")
    return 10.0 * float(np.log10(signal / noise))
