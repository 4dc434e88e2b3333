"""The NAMC bitstream: every byte a decoder needs, and a decoder that trusts none of them.

Layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"NAMC"
    4       1     format version (FORMAT_VERSION)
    5       1     mode: 0 = bit-packed indices, 1 = range-coded indices
    6       1     operating point id (bench.namc.config.PRESETS[...].op_id)
    7       4     weights tag: first 4 bytes of the SHA-256 of the weights
    11      4     sample rate of the input, Hz
    15      4     length of the input, samples (at that rate)
    19      2B    side information: per normalisation block, min code then max code (1 byte each)
    19+2B   ...   indices of the frames of non-constant blocks: packed (frames x codebooks x
                  ceil(log2 K) bits, frame-major, MSB first, zero-padded to a byte) or
                  range-coded (codebook-major, 32-bit words)
    end-4   4     CRC-32 of everything before it

``B`` (blocks) follows from the length, the rate and the operating point, and the number of
coded frames from that and the side information, so neither is sent. The decoder checks, in
order: size, magic, version, checksum, mode, operating point and weights, rate, length against
the data size; any failure is a
:class:`~bench.errors.BitstreamError` naming what is wrong, raised before anything is allocated
from a header field.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.errors import BitstreamError
from bench.namc import bitpack, entropy
from bench.namc.config import SAMPLE_RATE
from bench.namc.model import NamcModel
from bench.namc.norm import GRID_CODES
from bench.namc.transform import Analysis, coded_frames, layout

MAGIC = b"NAMC"
#: Bump whenever the layout or the meaning of any field changes.
FORMAT_VERSION = 1
MODE_PACKED = 0
MODE_RANGE = 1
MODES = {MODE_PACKED: "packed", MODE_RANGE: "range"}

_HEADER = struct.Struct("<4sBBBIII")
HEADER_BYTES = _HEADER.size
CRC_BYTES = 4
#: Bytes every stream carries whatever its content (header and checksum).
OVERHEAD_BYTES = HEADER_BYTES + CRC_BYTES
#: Input rates the header accepts (the codec resamples to 44.1 kHz internally).
MAX_RATE = 1_536_000
#: Longest input in samples (the field is 32 bits).
MAX_LENGTH = 2**32 - 1


@dataclass(frozen=True)
class Header:
    """The fixed fields at the start of a stream."""

    mode: int
    op_id: int
    weights_tag: int
    rate: int
    length: int
    version: int = FORMAT_VERSION


def weights_tag(model: NamcModel) -> int:
    """The 32-bit tag of a model's weights written in the header."""
    return int.from_bytes(bytes.fromhex(model.digest[:8]), "little")


def samples_at_model_rate(rate: int, length: int) -> int:
    """Samples at 44.1 kHz coded for ``length`` samples at ``rate`` (rounded half up)."""
    return (length * SAMPLE_RATE + rate // 2) // rate


def write(model: NamcModel, analysis: Analysis, mode: int, rate: int, length: int) -> bytes:
    """Serialise an analysis of ``length`` samples at ``rate`` Hz."""
    cfg = model.config
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode}")
    if not (1 <= rate <= MAX_RATE and 1 <= length <= MAX_LENGTH):
        raise ValueError(f"rate {rate} or length {length} out of range for the header")
    side = np.empty(2 * analysis.lo_codes.size, dtype=np.uint8)
    side[0::2], side[1::2] = analysis.lo_codes, analysis.hi_codes
    if mode == MODE_PACKED:
        payload = bitpack.pack(analysis.indices, cfg.index_bits)
    else:
        payload = entropy.encode(analysis.indices, model.arrays["prior.counts"])
    head = _HEADER.pack(MAGIC, FORMAT_VERSION, mode, cfg.op_id, weights_tag(model), rate, length)
    body = head + side.tobytes() + payload
    return body + zlib.crc32(body).to_bytes(CRC_BYTES, "little")


def read_header(data: bytes) -> Header:
    """Parse and check the fixed fields and the checksum (not yet the operating point)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"NAMC bitstream must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 4 or data[:4] != MAGIC:
        raise BitstreamError(f"not a NAMC bitstream (starts with {data[:4]!r}, expected {MAGIC!r})")
    if len(data) < 5:
        raise BitstreamError("NAMC bitstream truncated: no version byte")
    if data[4] != FORMAT_VERSION:
        raise BitstreamError(
            f"NAMC bitstream format version {data[4]} is not supported "
            f"(this decoder reads version {FORMAT_VERSION})"
        )
    if len(data) < OVERHEAD_BYTES:
        raise BitstreamError(
            f"NAMC bitstream truncated: {len(data)} bytes, header and checksum need "
            f"{OVERHEAD_BYTES}"
        )
    stored = int.from_bytes(data[-CRC_BYTES:], "little")
    if zlib.crc32(data[:-CRC_BYTES]) != stored:
        raise BitstreamError("NAMC bitstream checksum mismatch: the data is corrupted or truncated")
    _, version, mode, op_id, tag, rate, length = _HEADER.unpack_from(data)
    if mode not in MODES:
        raise BitstreamError(f"NAMC bitstream: unknown mode {mode}")
    if not 1 <= rate <= MAX_RATE:
        raise BitstreamError(f"NAMC bitstream: sample rate {rate} Hz is out of range")
    if length < 1:
        raise BitstreamError("NAMC bitstream: length is 0 samples")
    return Header(
        mode=mode, op_id=op_id, weights_tag=tag, rate=rate, length=length, version=version
    )


def read(data: bytes, models: Callable[[int], NamcModel]) -> tuple[Header, NamcModel, Analysis]:
    """Parse a whole stream; ``models(op_id)`` returns the operating point's model (or raises
    :class:`BitstreamError`). Returns the header, the model and the decoded analysis."""
    header = read_header(data)
    data = bytes(data)
    model = models(header.op_id)
    if weights_tag(model) != header.weights_tag:
        raise BitstreamError(
            f"NAMC bitstream was made with other weights for operating point "
            f"{model.config.name!r} (tag {header.weights_tag:08x}, installed "
            f"{weights_tag(model):08x})"
        )
    cfg = model.config
    samples = samples_at_model_rate(header.rate, header.length)
    if samples < 1:
        raise BitstreamError(
            f"NAMC bitstream: {header.length} samples at {header.rate} Hz is less than one "
            f"sample at {SAMPLE_RATE} Hz"
        )
    blocks, frames = layout(samples, cfg.frame, cfg.norm_block)
    body = data[HEADER_BYTES:-CRC_BYTES]
    if len(body) < 2 * blocks:
        raise BitstreamError(
            f"NAMC bitstream: {header.length} samples need {2 * blocks} bytes of side "
            f"information, the stream holds {len(body)} bytes in all"
        )
    side = np.frombuffer(body[: 2 * blocks], dtype=np.uint8)
    lo_codes, hi_codes = side[0::2].copy(), side[1::2].copy()
    if (
        np.any(lo_codes >= GRID_CODES)
        or np.any(hi_codes >= GRID_CODES)
        or np.any(lo_codes > hi_codes)
    ):
        raise BitstreamError("NAMC bitstream: invalid min/max side information")
    payload = body[2 * blocks :]
    frames = int(coded_frames(lo_codes, hi_codes, frames, cfg.norm_block // cfg.frame).sum())
    if header.mode == MODE_PACKED:
        count = frames * cfg.codebooks
        need = bitpack.packed_size(count, cfg.index_bits)
        if len(payload) != need:
            raise BitstreamError(
                f"NAMC bitstream: {header.length} samples need {need} bytes of packed indices, "
                f"got {len(payload)}"
            )
        indices = bitpack.unpack(payload, count, cfg.index_bits).reshape(frames, cfg.codebooks)
        if np.any(indices >= cfg.codebook_size):
            raise BitstreamError(
                f"NAMC bitstream: index beyond the codebook size {cfg.codebook_size}"
            )
    else:
        indices = entropy.decode(payload, frames, model.arrays["prior.counts"])
    return header, model, Analysis(lo_codes, hi_codes, indices)
