"""Fixed-width bit packing of indices: ``count`` values of ``bits`` bits, MSB first.

The packed form takes exactly ``ceil(count * bits / 8)`` bytes; the unused low bits of the last
byte are zero, and :func:`unpack` checks that (one more guard against corrupted input).
"""

from __future__ import annotations

import numpy as np

from bench.errors import BitstreamError

MAX_BITS = 16


def packed_size(count: int, bits: int) -> int:
    """Bytes that :func:`pack` produces for ``count`` values of ``bits`` bits."""
    return (count * bits + 7) // 8


def pack(values: np.ndarray, bits: int) -> bytes:
    """Pack non-negative integers below ``2**bits`` (1 <= bits <= 16) into bytes."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS}, got {bits}")
    flat = np.asarray(values).reshape(-1)
    if flat.size and (flat.min() < 0 or flat.max() >= (1 << bits)):
        raise ValueError(f"values must be in 0..{(1 << bits) - 1} to pack in {bits} bits")
    # Each value as 16 big-endian bits; keep the low ``bits`` columns, MSB first.
    wide = flat.astype(">u2").view(np.uint8).reshape(-1, 2)
    columns = np.unpackbits(wide, axis=1)[:, MAX_BITS - bits :]
    return np.packbits(columns.reshape(-1)).tobytes()


def unpack(data: bytes, count: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack`: ``count`` values (int64). ``data`` must be exactly
    :func:`packed_size` bytes with zero padding bits, else :class:`BitstreamError`."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS}, got {bits}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    need = packed_size(count, bits)
    if len(data) != need:
        raise BitstreamError(
            f"packed indices: expected {need} bytes for {count} x {bits} bits, got {len(data)}"
        )
    stream = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    if np.any(stream[count * bits :]):
        raise BitstreamError("packed indices: padding bits are not zero (corrupted data)")
    columns = stream[: count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.int64)
    return columns.astype(np.int64) @ weights
