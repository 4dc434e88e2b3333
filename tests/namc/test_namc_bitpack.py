"""Bit packing: exact sizes, round trips at every width, and refusal of malformed input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.errors import BitstreamError
from bench.namc import bitpack


@pytest.mark.parametrize("bits", range(1, 17))
@pytest.mark.parametrize("count", [0, 1, 3, 7, 13, 101])
def test_round_trip_every_width_and_odd_counts(bits: int, count: int) -> None:
    rng = np.random.default_rng(bits * 1000 + count)
    values = rng.integers(0, 1 << bits, count)
    if count >= 2:  # the extremes must survive too
        values[0], values[-1] = 0, (1 << bits) - 1
    data = bitpack.pack(values, bits)
    assert len(data) == bitpack.packed_size(count, bits) == (count * bits + 7) // 8
    assert np.array_equal(bitpack.unpack(data, count, bits), values)


def test_layout_is_msb_first() -> None:
    # 3-bit values 5 (101), 1 (001), 7 (111) -> 1010 0111 1[000 0000]
    assert bitpack.pack(np.array([5, 1, 7]), 3) == bytes([0b10100111, 0b10000000])


@given(
    bits=st.integers(1, 16),
    data=st.data(),
)
@settings(max_examples=300, deadline=None)
def test_round_trip_fuzzed(bits: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.integers(0, (1 << bits) - 1), max_size=200))
    packed = bitpack.pack(np.array(values, dtype=np.int64), bits)
    assert bitpack.unpack(packed, len(values), bits).tolist() == values


def test_refuses_values_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match=r"0\.\.7"):
        bitpack.pack(np.array([8]), 3)
    with pytest.raises(ValueError, match=r"0\.\.7"):
        bitpack.pack(np.array([-1]), 3)
    with pytest.raises(ValueError, match="bits"):
        bitpack.pack(np.array([1]), 17)


def test_unpack_checks_size_and_padding() -> None:
    data = bitpack.pack(np.array([1, 2, 3]), 5)  # 15 bits in 2 bytes, 1 padding bit
    with pytest.raises(BitstreamError, match="expected 2 bytes"):
        bitpack.unpack(data[:1], 3, 5)
    with pytest.raises(BitstreamError, match="expected 2 bytes"):
        bitpack.unpack(data + b"\0", 3, 5)
    with pytest.raises(BitstreamError, match="padding"):
        bitpack.unpack(data[:1] + bytes([data[1] | 1]), 3, 5)
