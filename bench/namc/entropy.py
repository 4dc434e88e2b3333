"""Range coding of the indices with a learned prior (the ``constriction`` library).

The prior of codebook ``n`` is the frequency of each index over the training data, stored with
the weights (``prior.counts``). Every count gets +0.5 so that an index never seen in training
still has a (small) probability and can be coded. Indices are coded codebook by codebook (all
frames of codebook 0, then codebook 1, ...) into one range-coder stream of 32-bit words; the
stream is written little-endian, so its length is a multiple of 4 bytes.
"""

from __future__ import annotations

import math

import numpy as np

from bench.errors import BitstreamError

#: Added to every count before normalising (a Krichevsky-Trofimov-style estimate).
SMOOTHING = 0.5


def prior_probabilities(counts: np.ndarray) -> np.ndarray:
    """Per-codebook probabilities ``(N, K)`` (float64) from index counts ``(N, K)``."""
    counts = np.asarray(counts, dtype=np.float64) + SMOOTHING
    return counts / counts.sum(axis=1, keepdims=True)


def ideal_bits(indices: np.ndarray, counts: np.ndarray) -> float:
    """Information content of ``indices`` ``(frames, N)`` under the prior, in bits."""
    probs = prior_probabilities(counts)
    cols = np.arange(probs.shape[0])[None, :]
    return float(-np.log2(probs[cols, indices]).sum())


def min_bits_per_frame(counts: np.ndarray) -> float:
    """Fewest bits one frame (all codebooks) can cost: a bound used to reject absurd lengths."""
    probs = prior_probabilities(counts)
    return float(sum(-math.log2(float(p.max())) for p in probs))


def _models(counts: np.ndarray) -> list:
    import constriction

    return [
        constriction.stream.model.Categorical(p, perfect=False) for p in prior_probabilities(counts)
    ]


def encode(indices: np.ndarray, counts: np.ndarray) -> bytes:
    """Range-code ``indices`` ``(frames, N)`` with the prior from ``counts`` ``(N, K)``."""
    import constriction

    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.shape[1] != counts.shape[0]:
        raise ValueError(f"indices must be (frames, {counts.shape[0]}), got {indices.shape}")
    if indices.size and (indices.min() < 0 or indices.max() >= counts.shape[1]):
        raise ValueError(f"indices must be in 0..{counts.shape[1] - 1}")
    encoder = constriction.stream.queue.RangeEncoder()
    for n, model in enumerate(_models(counts)):
        encoder.encode(np.ascontiguousarray(indices[:, n], dtype=np.int32), model)
    return encoder.get_compressed().astype("<u4").tobytes()


def decode(data: bytes, frames: int, counts: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode`; malformed or inconsistent data raises :class:`BitstreamError`."""
    import constriction

    if len(data) % 4:
        raise BitstreamError(
            f"range-coded indices must be whole 32-bit words, got {len(data)} bytes"
        )
    # Even the likeliest index costs some bits: a length needing fewer than half of them per
    # frame than the data holds is absurd (guards the allocation below against a forged header).
    floor = min_bits_per_frame(counts)
    if frames * floor * 0.5 > 8 * len(data) + 64:
        raise BitstreamError(
            f"range-coded indices: {frames} frames cannot fit in {len(data)} bytes "
            f"(at least {floor:.3f} bits per frame)"
        )
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    out = np.empty((frames, counts.shape[0]), dtype=np.int64)
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        for n, model in enumerate(_models(counts)):
            out[:, n] = decoder.decode(model, frames)
        exhausted = decoder.maybe_exhausted()
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise BitstreamError(f"range-coded indices are corrupted: {exc}") from None
    # The encoder is deterministic, so a valid stream is exactly the re-encoding of what it
    # decodes to. This also catches a stray trailing word, which the range decoder's lookahead
    # cannot tell from its own end padding.
    if not exhausted or encode(out, counts) != bytes(data):
        raise BitstreamError(
            "range-coded indices do not end where the last index does (truncated or corrupted)"
        )
    return out
