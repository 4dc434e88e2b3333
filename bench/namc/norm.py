"""Min-max normalisation with the min and max sent as side information.

The note normalised each clip with its min and max; a decoder cannot undo that without the two
values, so here they are part of the bitstream and counted. Each block of ``norm_block`` samples
gets its own min/max (a block gain, like a codec's scale factors), coded as one byte each on a
signed logarithmic grid. The encoder normalises with the *coded* values, rounded outwards (min
down, max up), so the decoder sees exactly what the encoder used and the normalised signal lies
in [-1, 1] by construction.
"""

from __future__ import annotations

import numpy as np

#: Magnitudes of the grid: 127 log-spaced steps from 2**-16 to 2**6 (about 1.05 dB apart).
_MAGNITUDES = 2.0 ** np.linspace(-16.0, 6.0, 127)
#: The 255 representable min/max values, ascending; byte code ``k`` means ``GRID[k]``.
GRID: np.ndarray = np.concatenate([-_MAGNITUDES[::-1], [0.0], _MAGNITUDES]).astype(np.float32)
#: Largest magnitude the grid holds; samples beyond it are clipped by the encoder.
GRID_LIMIT = float(GRID[-1])
#: Number of valid byte codes (0..254); 255 never occurs in a valid stream.
GRID_CODES = GRID.size


def quantise_bounds(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte codes of the grid values just at or below ``lo`` and at or above ``hi``."""
    lo = np.clip(np.asarray(lo, dtype=np.float32), -GRID_LIMIT, GRID_LIMIT)
    hi = np.clip(np.asarray(hi, dtype=np.float32), -GRID_LIMIT, GRID_LIMIT)
    lo_code = np.searchsorted(GRID, lo, side="right") - 1
    hi_code = np.searchsorted(GRID, hi, side="left")
    return (
        np.clip(lo_code, 0, GRID_CODES - 1).astype(np.uint8),
        np.clip(hi_code, 0, GRID_CODES - 1).astype(np.uint8),
    )


def bounds_from_codes(lo_code: np.ndarray, hi_code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-range of each block from its byte codes (as the decoder sees them)."""
    lo = GRID[np.asarray(lo_code, dtype=np.intp)]
    hi = GRID[np.asarray(hi_code, dtype=np.intp)]
    return (hi + lo) / 2.0, (hi - lo) / 2.0


def block_bounds(blocks: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Codes ``(lo_code, hi_code)`` of each row of ``blocks`` (``(n, block)`` float32).

    ``valid`` (same shape, bool) marks real samples; padding is excluded from min/max.
    """
    if valid is None:
        lo, hi = blocks.min(axis=1), blocks.max(axis=1)
    else:
        lo = np.where(valid, blocks, np.inf).min(axis=1)
        hi = np.where(valid, blocks, -np.inf).max(axis=1)
    return quantise_bounds(lo, hi)


def normalise(blocks: np.ndarray, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Map each row to [-1, 1] with its coded bounds; a row with zero range becomes zeros."""
    with np.errstate(divide="ignore"):
        scale = np.where(half > 0, 1.0 / half, 0.0).astype(np.float32)
    out = np.subtract(blocks, centre[:, None], dtype=np.float32)
    out *= scale[:, None]
    return np.clip(out, -1.0, 1.0, out=out)


def denormalise(normed: np.ndarray, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalise`. The decoder's output is clamped to [-1, 1] first: the side
    information says the true signal lies inside the coded bounds, so clamping can only help."""
    out = np.clip(normed, -1.0, 1.0).astype(np.float32, copy=False)
    out *= half[:, None].astype(np.float32)
    out += centre[:, None].astype(np.float32)
    return out
