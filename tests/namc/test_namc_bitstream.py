"""The bitstream: exact round trips in both modes, and a decoder that refuses every malformed
input with a BitstreamError (never a crash, a hang or a huge allocation)."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.errors import BitstreamError
from bench.namc import bitstream
from bench.namc.model import NamcModel
from bench.namc.transform import analyse, coded_frames, synthesise

RATE = 44100


def signal(samples: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    x = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(samples)
    return x.astype(np.float32)


def lookup_for(model: NamcModel):
    def lookup(op_id: int) -> NamcModel:
        if op_id != model.config.op_id:
            raise BitstreamError(f"unknown operating point id {op_id}")
        return model

    return lookup


def seal(body: bytes) -> bytes:
    """``body`` with a valid checksum, to reach the checks behind the checksum."""
    return body + zlib.crc32(body).to_bytes(4, "little")


def forge(data: bytes, **fields: int) -> bytes:
    """A stream with header fields replaced and the checksum recomputed."""
    magic, version, mode, op_id, tag, rate, length = struct.unpack_from("<4sBBBIII", data)
    values = dict(mode=mode, op_id=op_id, tag=tag, rate=rate, length=length, version=version)
    values.update(fields)
    head = struct.pack(
        "<4sBBBIII",
        magic,
        values["version"],
        values["mode"],
        values["op_id"],
        values["tag"],
        values["rate"],
        values["length"],
    )
    return seal(head + data[bitstream.HEADER_BYTES : -4])


@pytest.fixture(scope="module", params=[bitstream.MODE_PACKED, bitstream.MODE_RANGE])
def stream(request, small_model: NamcModel) -> tuple[int, bytes]:
    x = signal(1000)
    return request.param, bitstream.write(
        small_model, analyse(small_model, x), request.param, RATE, x.size
    )


@pytest.mark.parametrize("mode", [bitstream.MODE_PACKED, bitstream.MODE_RANGE])
@pytest.mark.parametrize("samples", [1, 20, 21, 22, 209, 210, 211, 4410])
def test_round_trip(small_model: NamcModel, mode: int, samples: int) -> None:
    x = signal(samples, seed=samples)
    analysis = analyse(small_model, x)
    data = bitstream.write(small_model, analysis, mode, RATE, samples)
    header, model, back = bitstream.read(data, lookup_for(small_model))
    assert (header.mode, header.rate, header.length, header.op_id) == (mode, RATE, samples, 200)
    assert np.array_equal(back.indices, analysis.indices)
    assert np.array_equal(back.lo_codes, analysis.lo_codes)
    assert np.array_equal(back.hi_codes, analysis.hi_codes)
    decoded = synthesise(model, back, samples)
    assert decoded.shape == (samples,)
    cfg = small_model.config
    frames, blocks = -(-samples // cfg.frame), -(-samples // cfg.norm_block)
    assert analysis.indices.shape == (frames, cfg.codebooks)  # codes = frames x codebooks
    if mode == bitstream.MODE_PACKED:
        index_bytes = (frames * cfg.codebooks * cfg.index_bits + 7) // 8
        assert len(data) == bitstream.OVERHEAD_BYTES + 2 * blocks + index_bytes


def test_every_truncation_is_refused(small_model: NamcModel, stream: tuple[int, bytes]) -> None:
    _, data = stream
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            bitstream.read(data[:cut], lookup_for(small_model))


def test_every_single_bit_flip_is_refused(
    small_model: NamcModel, stream: tuple[int, bytes]
) -> None:
    _, data = stream
    for position in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[position // 8] ^= 1 << (position % 8)
        with pytest.raises(BitstreamError):
            bitstream.read(bytes(flipped), lookup_for(small_model))


def test_header_checks_name_the_problem(small_model: NamcModel, stream) -> None:
    _, data = stream
    lookup = lookup_for(small_model)
    cases = {
        "not a NAMC bitstream": b"RIFF" + data[4:],
        "not a NAMC bitstream ": b"",
        "version 2 is not supported": data[:4] + bytes([2]) + data[5:],
        "checksum mismatch": data[:-1] + bytes([data[-1] ^ 0xFF]),
        "unknown mode 9": forge(data, mode=9),
        "unknown operating point id 7": forge(data, op_id=7),
        "other weights": forge(data, tag=12345),
        "sample rate 0 Hz": forge(data, rate=0),
        "sample rate 4000000 Hz": forge(data, rate=4_000_000),
        "length is 0": forge(data, length=0),
        "less than one sample": forge(data, rate=1_000_000, length=1),
    }
    for message, bad in cases.items():
        with pytest.raises(BitstreamError, match=message.strip()):
            bitstream.read(bad, lookup)


def test_absurd_lengths_are_refused_without_allocating(small_model: NamcModel, stream) -> None:
    _, data = stream
    start = time.perf_counter()
    for rate in (1, 8000, 44100):
        with pytest.raises(BitstreamError, match=r"need|cannot fit"):
            bitstream.read(forge(data, rate=rate, length=2**32 - 1), lookup_for(small_model))
    assert time.perf_counter() - start < 1.0


def test_side_information_is_checked(small_model: NamcModel) -> None:
    x = signal(500)
    data = bitstream.write(small_model, analyse(small_model, x), 0, RATE, x.size)
    side = bitstream.HEADER_BYTES
    lookup = lookup_for(small_model)
    swapped = bytearray(data[:-4])
    swapped[side], swapped[side + 1] = 200, 100  # min above max
    with pytest.raises(BitstreamError, match="side information"):
        bitstream.read(seal(bytes(swapped)), lookup)
    beyond = bytearray(data[:-4])
    beyond[side + 1] = 255  # no such grid value
    with pytest.raises(BitstreamError, match="side information"):
        bitstream.read(seal(bytes(beyond)), lookup)
    with pytest.raises(BitstreamError, match="packed indices"):
        bitstream.read(seal(data[:-4] + b"\0"), lookup)


def test_packed_index_beyond_codebook_is_refused(small_model: NamcModel) -> None:
    # 37 entries use 6-bit indices: the values 37..63 are representable but invalid.
    x = signal(42)  # 2 frames x 3 codebooks = 36 bits
    data = bitstream.write(small_model, analyse(small_model, x), 0, RATE, x.size)
    body = bytearray(data[:-4])
    body[bitstream.HEADER_BYTES + 2] = 0xFF  # first index -> 63
    with pytest.raises(BitstreamError, match="beyond the codebook"):
        bitstream.read(seal(bytes(body)), lookup_for(small_model))


def test_range_payload_garbage_is_refused(small_model: NamcModel) -> None:
    x = signal(800)
    data = bitstream.write(small_model, analyse(small_model, x), 1, RATE, x.size)
    rng = np.random.default_rng(0)
    keep = bitstream.HEADER_BYTES + 2 * 4  # header and side information of 4 blocks
    for size in (0, 4, 8, 40, 400):
        body = data[:keep] + rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        with pytest.raises(BitstreamError):
            bitstream.read(seal(body), lookup_for(small_model))


def _check_fuzzed(model: NamcModel, data: bytes, original: bytes | None) -> None:
    try:
        _, _, analysis = bitstream.read(data, lookup_for(model))
    except BitstreamError:
        return
    # Accepted: only possible for the untouched stream (or a checksum collision).
    assert original is not None and data == original
    assert analysis.indices.shape[1] == model.config.codebooks


@given(data=st.binary(max_size=200))
@settings(max_examples=1000, deadline=None)
def test_fuzz_random_bytes(small_model: NamcModel, data: bytes) -> None:
    _check_fuzzed(small_model, bitstream.MAGIC + bytes([1]) + data, None)
    _check_fuzzed(small_model, data, None)


_ORIGINALS: dict[int, bytes] = {}


@given(
    cuts=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=4),
    mode=st.sampled_from([0, 1]),
)
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_mutated_streams(small_model: NamcModel, cuts, mode: int) -> None:
    if mode not in _ORIGINALS:
        x = signal(700)
        _ORIGINALS[mode] = bitstream.write(small_model, analyse(small_model, x), mode, RATE, 700)
    original = _ORIGINALS[mode]
    data = bytearray(original)
    for position, value in cuts:
        data[position % len(data)] = value
    _check_fuzzed(small_model, bytes(data), original)


@given(
    mode=st.sampled_from([0, 1, 2, 255]),
    rate=st.integers(0, 2**32 - 1),
    length=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=64),
)
@settings(max_examples=1000, deadline=None)
def test_fuzz_forged_headers_with_valid_checksum(
    small_model: NamcModel, mode: int, rate: int, length: int, payload: bytes
) -> None:
    from bench.namc.bitstream import weights_tag

    head = struct.pack("<4sBBBIII", b"NAMC", 1, mode, 200, weights_tag(small_model), rate, length)
    try:
        header, _, analysis = bitstream.read(seal(head + payload), lookup_for(small_model))
    except BitstreamError:
        return
    # A forged stream that passes must be self-consistent (sizes match the header).
    cfg = small_model.config
    samples = bitstream.samples_at_model_rate(header.rate, header.length)
    mask = coded_frames(
        analysis.lo_codes, analysis.hi_codes, -(-samples // cfg.frame), cfg.norm_block // cfg.frame
    )
    assert analysis.indices.shape == (int(mask.sum()), cfg.codebooks)
    assert synthesise(small_model, analysis, samples).shape == (samples,)
