"""Range coding with a learned prior: lossless round trips, a rate near the information
content, and clear errors for malformed data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.errors import BitstreamError
from bench.namc import entropy


def skewed(codebooks: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.geometric(0.05, size=(codebooks, size)) - 1
    counts[:, : size // 3] = 0  # indices never seen in training must still be codable
    return counts.astype(np.int64)


@pytest.mark.parametrize(("codebooks", "size", "frames"), [(1, 256, 3500), (3, 37, 101), (4, 2, 7)])
def test_round_trip_and_rate(codebooks: int, size: int, frames: int) -> None:
    counts = skewed(codebooks, size, seed=size)
    rng = np.random.default_rng(1)
    probs = entropy.prior_probabilities(counts)
    indices = np.stack([rng.choice(size, frames, p=p) for p in probs], axis=1)
    indices[0] = 0  # an index with zero training count
    data = entropy.encode(indices, counts)
    assert np.array_equal(entropy.decode(data, frames, counts), indices)
    ideal = entropy.ideal_bits(indices, counts)
    # A range coder costs the information content plus at most a few words of flushing.
    assert ideal <= 8 * len(data) <= ideal * 1.01 + 64


def test_prior_saves_bits_over_packing() -> None:
    counts = np.zeros((1, 256), dtype=np.int64)
    counts[0, :8] = 1000  # eight of 256 entries in use: ~3 bits instead of 8
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 8, (1000, 1))
    assert len(entropy.encode(indices, counts)) * 8 < 0.4 * 1000 * 8


@given(data=st.data(), codebooks=st.integers(1, 3), size=st.integers(2, 40))
@settings(max_examples=150, deadline=None)
def test_round_trip_fuzzed(data: st.DataObject, codebooks: int, size: int) -> None:
    counts = np.array(
        data.draw(
            st.lists(st.integers(0, 50), min_size=codebooks * size, max_size=codebooks * size)
        )
    ).reshape(codebooks, size)
    frames = data.draw(st.integers(0, 60))
    flat = data.draw(
        st.lists(st.integers(0, size - 1), min_size=frames * codebooks, max_size=frames * codebooks)
    )
    indices = np.array(flat, dtype=np.int64).reshape(frames, codebooks)
    assert np.array_equal(entropy.decode(entropy.encode(indices, counts), frames, counts), indices)


def test_decode_rejects_malformed_data() -> None:
    counts = skewed(2, 64, seed=3)
    indices = np.random.default_rng(2).integers(0, 64, (500, 2))
    data = entropy.encode(indices, counts)
    with pytest.raises(BitstreamError, match="32-bit words"):
        entropy.decode(data[:-1], 500, counts)
    # (A trailing zero word is indistinguishable from the coder's own end padding; the
    # bitstream's checksum catches that case.)
    with pytest.raises(BitstreamError, match="do not end"):
        entropy.decode(data + bytes([1, 2, 3, 4]), 500, counts)
    with pytest.raises(BitstreamError, match="cannot fit"):
        entropy.decode(data, 10**12, counts)  # absurd length: refused before allocating


def test_decode_never_crashes_on_garbage() -> None:
    counts = skewed(2, 64, seed=4)
    rng = np.random.default_rng(5)
    for trial in range(300):
        garbage = rng.integers(0, 256, 4 * int(rng.integers(0, 40)), dtype=np.uint8).tobytes()
        try:
            out = entropy.decode(garbage, int(rng.integers(0, 200)), counts)
        except BitstreamError:
            continue
        assert out.min(initial=0) >= 0 and out.max(initial=0) < 64, trial
