"""The neural peers' bitstream: a small versioned header, the codes, side information, a CRC.

Layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"NPEC"
    4       1     format version (FORMAT_VERSION)
    5       1     codec id (one per registered peer model, see each adapter's ``codec_id``)
    6       1     mode: 0 = bit-packed codes, 1 = codes range-coded with an adaptive model
    7       4     model tag: first 4 bytes of the SHA-256 of the checkpoint's files
    11      4     sample rate of the input, Hz
    15      4     length of the input, samples (at that rate)
    19      1     channels of the input
    20      1     number of codebooks asked (the operating point)
    21      1     bits per code (ceil(log2 codebook size))
    22      1     number of code groups G (a group is one (codebooks, frames) array: one per coded
                  channel, or one per time scale for multi-scale codecs such as SNAC)
    23      4     side-information bytes S
    27      5G    per group: codebooks (1 byte), frames (4 bytes)
    27+5G   S     side information (e.g. EnCodec 48 kHz: one float32 scale per 1-s segment)
    ...     ...   codes (see below)
    end-4   4     CRC-32 of everything before it

Codes, mode 0: every group's ``(codebooks, frames)`` array, codebook-major, packed at ``bits``
bits a code, MSB first, zero-padded to a byte (:mod:`bench.namc.bitpack`).

Codes, mode 1: one flag bit per codebook (all groups in order; MSB first, zero-padded to a byte):
1 = range-coded, 0 = packed. Then the packed codebooks as in mode 0, then one range-coder stream
(``constriction``, 32-bit little-endian words) of the flagged codebooks, frame by frame within a
group. The model is adaptive and needs nothing from training: the probability of code ``k`` at
frame ``t`` of a codebook is ``(n_k + ALPHA) / (t + ALPHA * K)``, ``n_k`` the times ``k`` occurred
before ``t`` in that codebook (Krichevsky-Trofimov). The encoder flags a codebook only when that
costs fewer bits than packing it, so a stream of mode 1 is never much longer than mode 0.

The decoder checks size, magic, version, checksum, then every field, and leaves it to the codec to
check the group shapes against the length before :func:`read_codes` allocates anything.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from bench.errors import BitstreamError
from bench.namc import bitpack

MAGIC = b"NPEC"
#: Bump whenever the layout or the meaning of any field changes.
FORMAT_VERSION = 1
MODE_PACKED = 0
MODE_RANGE = 1
MODES = {MODE_PACKED: "packed", MODE_RANGE: "range"}
#: Pseudo-count of the adaptive model (Krichevsky-Trofimov).
ALPHA = 0.5

_HEADER = struct.Struct("<4sBBBIIIBBBBI")
_GROUP = struct.Struct("<BI")
HEADER_BYTES = _HEADER.size
#: Bytes of each code group's entry (codebooks, frames) after the header.
GROUP_BYTES = _GROUP.size
CRC_BYTES = 4
MAX_RATE = 1_536_000
MAX_LENGTH = 2**32 - 1
MAX_GROUPS = 64


@dataclass(frozen=True)
class Header:
    """The fields before the side information, groups included."""

    codec_id: int
    mode: int
    model_tag: int
    rate: int
    length: int
    channels: int
    n_codebooks: int
    bits: int
    groups: tuple[tuple[int, int], ...]
    side_bytes: int
    version: int = FORMAT_VERSION

    @property
    def overhead_bytes(self) -> int:
        """Header, group table and checksum: the bytes that carry no code and no side info."""
        return HEADER_BYTES + _GROUP.size * len(self.groups) + CRC_BYTES


def bits_for(codebook_size: int) -> int:
    """Bits a packed code takes: ``ceil(log2 K)``."""
    return max(1, math.ceil(math.log2(codebook_size)))


def samples_at_rate(rate: int, length: int, model_rate: int) -> int:
    """Samples at ``model_rate`` coded for ``length`` samples at ``rate`` (rounded half up)."""
    return (length * model_rate + rate // 2) // rate


# -- adaptive range coding ---------------------------------------------------------------------
def _probabilities(counts: np.ndarray, t: int) -> np.ndarray:
    return (counts + ALPHA) / (t + ALPHA * counts.shape[-1])


def adaptive_bits(codes: np.ndarray, size: int) -> float:
    """Information content (bits) of one codebook's ``codes`` under the adaptive model."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size == 0:
        return 0.0
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, codes.size]))
    before = np.empty(codes.size, dtype=np.float64)
    before[order] = np.arange(codes.size) - run_start  # occurrences of the same code earlier
    t = np.arange(codes.size, dtype=np.float64)
    return float(-np.log2((before + ALPHA) / (t + ALPHA * size)).sum())


def _range_encode(groups: list[np.ndarray], flags: list[np.ndarray], size: int) -> bytes:
    import constriction

    family = constriction.stream.model.Categorical(perfect=False)
    encoder = constriction.stream.queue.RangeEncoder()
    for codes, flag in zip(groups, flags, strict=True):
        chosen = codes[flag]
        if chosen.size == 0:
            continue
        counts = np.zeros((chosen.shape[0], size), dtype=np.float64)
        rows = np.arange(chosen.shape[0])
        for t in range(chosen.shape[1]):
            symbols = np.ascontiguousarray(chosen[:, t], dtype=np.int32)
            encoder.encode(symbols, family, _probabilities(counts, t))
            counts[rows, symbols] += 1.0
    return encoder.get_compressed().astype("<u4").tobytes()


def _check_fits(data: bytes, shapes: list[tuple[int, int]], size: int) -> None:
    """Refuse frame counts the range-coded ``data`` cannot hold, before allocating them.

    Even a codebook repeating one code costs at least ``alpha (K-1) ln(1 + F / (alpha K)) / ln 2``
    bits under the adaptive model (the integral bound of its cost)."""
    floor = sum(
        rows * ALPHA * (size - 1) * math.log1p(frames / (ALPHA * size)) / math.log(2)
        for rows, frames in shapes
    )
    if floor > 8 * len(data) + 64:
        raise BitstreamError(f"range-coded codes: {shapes} cannot fit in {len(data)} bytes")


def _range_decode(data: bytes, shapes: list[tuple[int, int]], size: int) -> list[np.ndarray]:
    import constriction

    if len(data) % 4:
        raise BitstreamError(f"range-coded codes must be whole 32-bit words, got {len(data)} bytes")
    _check_fits(data, shapes, size)
    family = constriction.stream.model.Categorical(perfect=False)
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    out: list[np.ndarray] = []
    try:
        decoder = constriction.stream.queue.RangeDecoder(words)
        for rows, frames in shapes:
            codes = np.empty((rows, frames), dtype=np.int64)
            counts = np.zeros((rows, size), dtype=np.float64)
            index = np.arange(rows)
            for t in range(frames if rows else 0):
                symbols = decoder.decode(family, _probabilities(counts, t))
                codes[:, t] = symbols
                counts[index, symbols] += 1.0
            out.append(codes)
        exhausted = decoder.maybe_exhausted()
    except (ValueError, RuntimeError, AssertionError) as exc:
        raise BitstreamError(f"range-coded codes are corrupted: {exc}") from None
    if not exhausted:
        raise BitstreamError("range-coded codes do not end where the last code does")
    return out


# -- write / read -------------------------------------------------------------------------------
def write(
    *,
    codec_id: int,
    mode: int,
    model_tag: int,
    rate: int,
    length: int,
    channels: int,
    n_codebooks: int,
    codebook_size: int,
    groups: list[np.ndarray],
    side: bytes = b"",
) -> bytes:
    """Serialise ``groups`` (each ``(codebooks, frames)`` of ints in ``0..K-1``) and ``side``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode}")
    if not (1 <= rate <= MAX_RATE and 1 <= length <= MAX_LENGTH):
        raise ValueError(f"rate {rate} or length {length} out of range for the header")
    if not 1 <= len(groups) <= MAX_GROUPS:
        raise ValueError(f"1..{MAX_GROUPS} code groups, got {len(groups)}")
    bits = bits_for(codebook_size)
    arrays = [np.asarray(g, dtype=np.int64) for g in groups]
    for g in arrays:
        if g.ndim != 2 or not 1 <= g.shape[0] <= 255:
            raise ValueError(f"a code group must be (1..255 codebooks, frames), got {g.shape}")
        if g.size and (g.min() < 0 or g.max() >= codebook_size):
            raise ValueError(f"codes must be in 0..{codebook_size - 1}")
    head = _HEADER.pack(
        MAGIC, FORMAT_VERSION, codec_id, mode, model_tag, rate, length, channels,
        n_codebooks, bits, len(arrays), len(side),
    )  # fmt: skip
    table = b"".join(_GROUP.pack(g.shape[0], g.shape[1]) for g in arrays)
    if mode == MODE_PACKED:
        payload = bitpack.pack(np.concatenate([g.reshape(-1) for g in arrays]), bits)
    else:
        flags = [
            np.array([adaptive_bits(row, codebook_size) < bits * row.size for row in g], bool)
            for g in arrays
        ]
        flag_bytes = np.packbits(np.concatenate(flags).astype(np.uint8)).tobytes()
        packed = [g[~f].reshape(-1) for g, f in zip(arrays, flags, strict=True)]
        packed_bytes = bitpack.pack(np.concatenate(packed), bits)
        payload = flag_bytes + packed_bytes + _range_encode(arrays, flags, codebook_size)
    body = head + table + bytes(side) + payload
    return body + zlib.crc32(body).to_bytes(CRC_BYTES, "little")


def read_header(data: bytes) -> Header:
    """Parse and check the fixed fields, the group table and the checksum (allocates nothing
    sized by a header field)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"neural peer bitstream must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:4] != MAGIC:
        raise BitstreamError(
            f"not a neural peer bitstream (starts with {data[:4]!r}, expected {MAGIC!r})"
        )
    if len(data) < 5:
        raise BitstreamError("neural peer bitstream truncated: no version byte")
    if data[4] != FORMAT_VERSION:
        raise BitstreamError(
            f"neural peer bitstream format version {data[4]} is not supported (this decoder "
            f"reads version {FORMAT_VERSION})"
        )
    if len(data) < HEADER_BYTES + CRC_BYTES:
        raise BitstreamError(f"neural peer bitstream truncated: {len(data)} bytes")
    if zlib.crc32(data[:-CRC_BYTES]) != int.from_bytes(data[-CRC_BYTES:], "little"):
        raise BitstreamError(
            "neural peer bitstream checksum mismatch: the data is corrupted or truncated"
        )
    (_, version, codec_id, mode, tag, rate, length, channels, n_codebooks, bits, count,
     side) = _HEADER.unpack_from(data)  # fmt: skip
    if mode not in MODES:
        raise BitstreamError(f"neural peer bitstream: unknown mode {mode}")
    if not 1 <= rate <= MAX_RATE:
        raise BitstreamError(f"neural peer bitstream: sample rate {rate} Hz is out of range")
    if length < 1 or not 1 <= channels <= 2:
        raise BitstreamError(
            f"neural peer bitstream: {length} samples, {channels} channel(s) is not valid"
        )
    if not 1 <= bits <= bitpack.MAX_BITS or not 1 <= count <= MAX_GROUPS:
        raise BitstreamError(f"neural peer bitstream: {bits} bits, {count} groups is not valid")
    table_end = HEADER_BYTES + _GROUP.size * count
    if table_end + side + CRC_BYTES > len(data):
        raise BitstreamError(
            f"neural peer bitstream: {count} groups and {side} bytes of side information do not "
            f"fit in {len(data)} bytes"
        )
    groups = tuple(_GROUP.unpack_from(data, HEADER_BYTES + _GROUP.size * i) for i in range(count))
    return Header(
        codec_id=codec_id, mode=mode, model_tag=tag, rate=rate, length=length,
        channels=channels, n_codebooks=n_codebooks, bits=bits, groups=groups, side_bytes=side,
        version=version,
    )  # fmt: skip


def side_information(data: bytes, header: Header) -> bytes:
    """The side-information bytes of a stream whose header was read by :func:`read_header`."""
    start = HEADER_BYTES + _GROUP.size * len(header.groups)
    return bytes(data[start : start + header.side_bytes])


def read_codes(data: bytes, header: Header, codebook_size: int) -> list[np.ndarray]:
    """The code groups of a stream. The caller has checked ``header.groups`` against the
    length (so the arrays allocated here are bounded by the input, not by the header)."""
    data = bytes(data)
    if header.bits != bits_for(codebook_size):
        raise BitstreamError(
            f"neural peer bitstream: {header.bits} bits a code, the model's codebooks need "
            f"{bits_for(codebook_size)}"
        )
    start = HEADER_BYTES + _GROUP.size * len(header.groups) + header.side_bytes
    payload = data[start:-CRC_BYTES]
    shapes = list(header.groups)
    if header.mode == MODE_PACKED:
        rows = [np.ones(c, dtype=bool) for c, _ in shapes]
        packed_part, rest = payload, b""
    else:
        total = sum(c for c, _ in shapes)
        flag_len = (total + 7) // 8
        if len(payload) < flag_len:
            raise BitstreamError("neural peer bitstream: truncated codebook flags")
        flat = np.unpackbits(np.frombuffer(payload[:flag_len], dtype=np.uint8))
        if np.any(flat[total:]):
            raise BitstreamError("neural peer bitstream: codebook flag padding is not zero")
        split = np.cumsum([c for c, _ in shapes])[:-1]
        rows = [~f.astype(bool) for f in np.split(flat[:total], split)]
        count = sum(int(r.sum()) * f for r, (_, f) in zip(rows, shapes, strict=True))
        need = bitpack.packed_size(count, header.bits)
        if len(payload) < flag_len + need:
            raise BitstreamError("neural peer bitstream: truncated packed codes")
        packed_part = payload[flag_len : flag_len + need]
        rest = payload[flag_len + need :]
    count = sum(int(r.sum()) * f for r, (_, f) in zip(rows, shapes, strict=True))
    need = bitpack.packed_size(count, header.bits)
    if len(packed_part) != need:
        raise BitstreamError(
            f"neural peer bitstream: {need} bytes of packed codes expected, got {len(packed_part)}"
        )
    flat_codes = bitpack.unpack(packed_part, count, header.bits)
    if flat_codes.size and flat_codes.max() >= codebook_size:
        raise BitstreamError(
            f"neural peer bitstream: code beyond the codebook size {codebook_size}"
        )
    if header.mode == MODE_RANGE:
        ranged = [(int((~k).sum()), f) for k, (_, f) in zip(rows, shapes, strict=True)]
        _check_fits(rest, ranged, codebook_size)
    out: list[np.ndarray] = []
    offset = 0
    for keep, (codebooks, frames) in zip(rows, shapes, strict=True):
        group = np.zeros((codebooks, frames), dtype=np.int64)
        n = int(keep.sum()) * frames
        group[keep] = flat_codes[offset : offset + n].reshape(-1, frames)
        offset += n
        out.append(group)
    if header.mode == MODE_RANGE:
        coded = _range_decode(rest, ranged, codebook_size)
        for group, keep, values in zip(out, rows, coded, strict=True):
            group[~keep] = values
        # The coder is deterministic: a valid stream is exactly the re-encoding of its codes.
        flags = [~k for k in rows]
        if _range_encode(out, flags, codebook_size) != rest:
            raise BitstreamError("range-coded codes do not re-encode to the stream (corrupted)")
    return out
