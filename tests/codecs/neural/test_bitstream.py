"""The neural peers' bitstream: exact layout sizes, both modes, and refusal of bad bytes."""

from __future__ import annotations

import numpy as np
import pytest

from bench.codecs.neural import bitstream
from bench.errors import BitstreamError
from tests.codecs.neural.conftest import reencode


def _write(groups, mode=bitstream.MODE_PACKED, size=1024, side=b""):
    return bitstream.write(
        codec_id=7, mode=mode, model_tag=0xDEADBEEF, rate=44100, length=88200, channels=1,
        n_codebooks=groups[0].shape[0], codebook_size=size, groups=groups, side=side,
    )  # fmt: skip


def _roundtrip(data, size=1024):
    header = bitstream.read_header(data)
    return header, bitstream.read_codes(data, header, size)


def test_packed_layout_is_exact_and_roundtrips():
    rng = np.random.default_rng(0)
    groups = [rng.integers(0, 1024, (8, 151)), rng.integers(0, 1024, (8, 151))]
    data = _write(groups, side=b"\x01\x02\x03\x04")
    # header 27 + 5 per group + side 4 + ceil(2*8*151*10/8) + CRC 4
    assert len(data) == 27 + 10 + 4 + (2 * 8 * 151 * 10 + 7) // 8 + 4
    header, codes = _roundtrip(data)
    assert header.groups == ((8, 151), (8, 151)) and header.bits == 10
    assert header.overhead_bytes == 27 + 10 + 4
    assert bitstream.side_information(data, header) == b"\x01\x02\x03\x04"
    for got, want in zip(codes, groups, strict=True):
        np.testing.assert_array_equal(got, want)


def test_groups_of_different_frame_counts_roundtrip():
    rng = np.random.default_rng(1)
    groups = [rng.integers(0, 4096, (1, n)) for n in (12, 24, 48)]  # SNAC-like scales
    for mode in bitstream.MODES:
        _, codes = _roundtrip(_write(groups, mode, size=4096), size=4096)
        for got, want in zip(codes, groups, strict=True):
            np.testing.assert_array_equal(got, want)


def test_range_mode_is_lossless_and_pays_only_where_it_saves():
    rng = np.random.default_rng(2)
    skewed = rng.choice(1024, size=(4, 600), p=np.r_[0.5, np.full(1023, 0.5 / 1023)])
    uniform = rng.integers(0, 1024, (4, 600))
    group = np.concatenate([skewed, uniform])
    packed = _write([group])
    ranged = _write([group], bitstream.MODE_RANGE)
    _, (codes,) = _roundtrip(ranged)
    np.testing.assert_array_equal(codes, group)
    # The uniform codebooks stay packed (flag 0), the skewed ones are range-coded: the stream
    # is shorter than packing by about what the model predicts.
    saving = sum(10 * 600 - bitstream.adaptive_bits(row, 1024) for row in skewed) / 8
    assert saving > 1000
    assert len(packed) - len(ranged) == pytest.approx(saving - 1, abs=16)
    # Uniform codes alone: never longer than packed by more than the flag byte.
    assert len(_write([uniform], bitstream.MODE_RANGE)) <= len(_write([uniform])) + 1


def test_adaptive_bits_counts_earlier_occurrences():
    # Codes 0, 0, 1 with K = 2: (0.5/1) * (1.5/2) * (0.5/3)
    expected = -np.log2(0.5 / 1.0) - np.log2(1.5 / 2.0) - np.log2(0.5 / 3.0)
    assert bitstream.adaptive_bits(np.array([0, 0, 1]), 2) == pytest.approx(expected)


@pytest.mark.parametrize("mode", sorted(bitstream.MODES))
def test_corrupt_streams_are_bitstream_errors(mode):
    rng = np.random.default_rng(3)
    data = _write([rng.integers(0, 1024, (4, 100))], mode)
    bad = [
        b"",
        b"NPE",
        b"XXXX" + data[4:],
        data[:4] + bytes([99]) + data[5:],  # version
        data[:-1],  # truncated
        data[:40] + bytes([data[40] ^ 0x10]) + data[41:],  # flipped bit: checksum
        data + b"\x00",
    ]
    for blob in bad:
        with pytest.raises(BitstreamError):
            _roundtrip(blob)


def test_forged_fields_with_valid_checksum_are_refused():
    rng = np.random.default_rng(4)
    data = _write([rng.integers(0, 1024, (4, 100))])

    def frames(value):
        def change(body):
            body[28:32] = value.to_bytes(4, "little")

        return change

    def byte(offset, value):
        def change(body):
            body[offset] = value

        return change

    # More frames than the bytes hold: refused before any allocation of that size.
    with pytest.raises(BitstreamError, match="packed codes"):
        _roundtrip(reencode(data, frames(2**31)))
    with pytest.raises(BitstreamError, match="mode"):
        _roundtrip(reencode(data, byte(6, 9)))
    with pytest.raises(BitstreamError, match="bits"):
        _roundtrip(reencode(data, byte(21, 11)))
    with pytest.raises(BitstreamError):  # side information longer than the stream
        _roundtrip(reencode(data, lambda body: body.__setitem__(slice(23, 27), b"\xff" * 4)))
    ranged = _write([rng.integers(0, 3, (4, 100))], bitstream.MODE_RANGE)  # all range-coded
    with pytest.raises(BitstreamError, match="cannot fit"):
        _roundtrip(reencode(ranged, frames(2**31)))
    # A range-coded stream with one word appended is caught by the re-encoding check.
    with pytest.raises(BitstreamError):
        _roundtrip(reencode(ranged, lambda body: body.extend(b"\x01\x00\x00\x00")))


def test_write_refuses_codes_outside_the_codebook():
    with pytest.raises(ValueError, match="codes must be"):
        _write([np.full((2, 5), 1024)])
