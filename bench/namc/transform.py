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

from bench.namc.model import NamcModel
from bench.namc.norm import block_bounds, bounds_from_codes, denormalise, normalise


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


def analyse(model: NamcModel, signal: np.ndarray) -> Analysis:
    """Normalise ``signal`` (1-D float32 at 44.1 kHz) by blocks and encode its frames."""
    cfg = model.config
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"signal must be 1-D and non-empty, got shape {signal.shape}")
    blocks, frames = layout(signal.size, cfg.frame, cfg.norm_block)
    padded = np.zeros(blocks * cfg.norm_block, dtype=np.float32)
    padded[: signal.size] = signal
    valid = np.zeros(padded.size, dtype=bool)
    valid[: signal.size] = True
    rows = padded.reshape(blocks, cfg.norm_block)
    lo_codes, hi_codes = block_bounds(rows, valid.reshape(blocks, cfg.norm_block))
    centre, half = bounds_from_codes(lo_codes, hi_codes)
    normed = normalise(rows, centre, half)
    # Padding is neutral in the normalised domain (the block centre), not a zero sample that
    # may lie outside the block's bounds.
    normed[~valid.reshape(blocks, cfg.norm_block)] = 0.0
    normed = normed.reshape(-1, cfg.frame)[:frames]
    mask = coded_frames(lo_codes, hi_codes, frames, cfg.norm_block // cfg.frame)
    return Analysis(lo_codes, hi_codes, model.encode_frames(normed[mask]))


def synthesise(model: NamcModel, analysis: Analysis, samples: int) -> np.ndarray:
    """Rebuild ``samples`` samples (float32, 44.1 kHz) from what :func:`analyse` produced."""
    cfg = model.config
    blocks, frames = layout(samples, cfg.frame, cfg.norm_block)
    if analysis.lo_codes.shape != (blocks,) or analysis.hi_codes.shape != (blocks,):
        raise ValueError("analysis does not match the signal length")
    mask = coded_frames(analysis.lo_codes, analysis.hi_codes, frames, cfg.norm_block // cfg.frame)
    if analysis.indices.shape != (int(mask.sum()), cfg.codebooks):
        raise ValueError("analysis does not match the signal length")
    normed = np.zeros((blocks * cfg.norm_block // cfg.frame, cfg.frame), dtype=np.float32)
    normed[:frames][mask] = model.decode_frames(analysis.indices)
    centre, half = bounds_from_codes(analysis.lo_codes, analysis.hi_codes)
    out = denormalise(normed.reshape(blocks, cfg.norm_block), centre, half)
    return out.reshape(-1)[:samples]


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
