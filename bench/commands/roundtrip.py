"""``python -m bench roundtrip IN --codec NAME --kbps K [--out OUT.wav]``.

Encodes and decodes one file, optionally writes the decoded audio (and the encoded bytes), and
prints one JSON object describing what the bytes cost and how well the result lines up.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

HELP = "encode and decode one file with one codec; print the measured bitrate and lag as JSON"
DESCRIPTION = """\
Encode and decode one audio file with one codec and print one JSON object:
codec, target_kbps, actual_kbps (8 * payload bytes / duration / 1000), bytes (payload),
header_bytes, container_bytes, total_bytes, duration_s, sample_rate, channels,
lag_samples (measured by cross-correlation; 0 means aligned), lag_method, native_rate,
encode_s, decode_s, params, codec_version.

The decoded audio has the input's sample rate and length. With --out it is written as
32-bit float WAV (or 24-bit FLAC for .flac), atomically: a failed run leaves no file.

Examples:
  python -m bench roundtrip clip.wav --codec opus --kbps 12 --out clip.opus12.wav
  python -m bench roundtrip clip.flac --codec flac
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``roundtrip``."""
    parser.add_argument("input", type=Path, help="audio file (WAV, FLAC, MP3, Ogg, ...)")
    parser.add_argument("--codec", required=True, help="codec name (see: python -m bench list)")
    parser.add_argument(
        "--kbps", type=float, default=None, help="target bitrate in kbps (omit for lossless flac)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write decoded audio (.wav/.flac)")
    parser.add_argument(
        "--encoded-out", type=Path, default=None, help="also write the encoded bytes to this file"
    )


def main(args: argparse.Namespace) -> int:
    """Run one round trip and print its JSON report."""
    from bench.align import measure_lag
    from bench.audio import load_audio, save_audio
    from bench.codecs import get_codec
    from bench.errors import BenchError
    from bench.fsutil import atomic_write_bytes

    codec = get_codec(args.codec)
    ok, reason = codec.availability()
    if not ok:
        raise BenchError(f"codec {codec.name!r} is not available here: {reason}")
    if args.kbps is not None and not math.isfinite(args.kbps):
        raise BenchError(f"--kbps must be a finite number, got {args.kbps}")
    if args.out is not None and args.out.suffix.lower() not in (".wav", ".flac"):
        raise BenchError(f"{args.out}: --out must end in .wav or .flac")
    audio = load_audio(args.input)
    try:
        codec.check_input(audio, args.kbps)
        start = time.perf_counter()
        encoded = codec.encode(audio, args.kbps)
        middle = time.perf_counter()
        decoded = codec.decode(encoded.data)
        end = time.perf_counter()
    except BenchError as exc:
        raise BenchError(f"{args.input}: {exc}") from None
    if decoded.rate != audio.rate or decoded.frames != audio.frames:
        raise BenchError(
            f"{args.input}: {codec.name} returned {decoded.frames} frames at {decoded.rate} Hz "
            f"for {audio.frames} at {audio.rate} Hz"
        )
    lag, method = measure_lag(audio, decoded, waveform=codec.waveform)
    report = {
        "input": str(args.input),
        "codec": codec.name,
        "target_kbps": args.kbps,
        "actual_kbps": round(encoded.actual_kbps, 4),
        "bytes": encoded.payload_bytes,
        "header_bytes": encoded.header_bytes,
        "container_bytes": encoded.container_bytes,
        "total_bytes": len(encoded.data),
        "total_kbps": round(encoded.total_kbps, 4),
        "duration_s": round(audio.duration, 6),
        "sample_rate": audio.rate,
        "channels": audio.channels,
        "lag_samples": lag,
        "lag_method": method,
        "native_rate": encoded.params.get("native_rate"),
        "encode_s": round(middle - start, 4),
        "decode_s": round(end - middle, 4),
        "params": dict(encoded.params),
        "codec_version": codec.version(),
    }
    if args.encoded_out is not None:
        atomic_write_bytes(args.encoded_out, encoded.data)
        report["encoded_out"] = str(args.encoded_out)
    if args.out is not None:
        subtype = "FLOAT" if args.out.suffix.lower() == ".wav" else "PCM_24"
        save_audio(args.out, decoded, subtype=subtype)
        report["out"] = str(args.out)
    print(json.dumps(report, default=str))
    return 0
