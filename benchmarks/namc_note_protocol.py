#!/usr/bin/env python3
"""The original note's LibriSpeech protocol, applied to NAMC's ``note`` operating point, beside
the same measurement on native signals. Not part of the test suite.

    python benchmarks/namc_note_protocol.py [--librispeech DIR] [--kbps 5.6]

The note resampled every LibriSpeech utterance to 44.1 kHz, trimmed it to 20,500 samples and
min-max normalised it to [0, 1]; its SNR and PSNR are computed on those [0, 1] signals, whose
mean is about 0.5. This script codes each utterance with the ``namc`` codec and scores it four
ways:

  note      [0, 1] signal coded and scored as the note did (SNR, PSNR with peak 1, STOI)
  native    the same 20,500 samples in [-1, 1] (no min-max), coded and scored
  ac        the note's [0, 1] result with the reference's mean removed from both signals
  suite     the whole utterance at its native 16 kHz (the codec resamples internally)

and reports the measured bitrate of each from the real bytes. Writes a JSON record to
``benchmarks/results/`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.audio import Audio, load_audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from benchmarks.machine import write_record  # noqa: E402

DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data"))
NOTE_SAMPLES = 20_500
NOTE = {"snr_db": 38.0669, "psnr_db": 43.6499, "stoi": 0.9911, "stoi_text": 0.9758}


def snr(ref: np.ndarray, deg: np.ndarray) -> float:
    ref, deg = ref.astype(np.float64), deg.astype(np.float64)
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - deg) ** 2))


def psnr(ref: np.ndarray, deg: np.ndarray, peak: float) -> float:
    mse = np.mean((ref.astype(np.float64) - deg.astype(np.float64)) ** 2)
    return 10 * np.log10(peak**2 / mse)


def stoi(ref: np.ndarray, deg: np.ndarray, rate: int) -> float:
    """STOI, or NaN where pystoi cannot compute it: after removing silent frames fewer than
    30 remain (384 ms), and pystoi then warns and returns 1e-5, which is not a score."""
    from pystoi import stoi as _stoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(_stoi(ref.astype(np.float64), deg.astype(np.float64), rate, extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return float("nan")
    return value


def code(codec, audio: Audio, kbps: float) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    encoded, decoded = codec.roundtrip(audio, kbps)
    return decoded.samples[0], encoded.actual_kbps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--librispeech", type=Path, default=DATA / "librispeech-mini" / "LibriSpeech"
    )
    parser.add_argument("--kbps", type=float, default=5.6, help="operating point (note: 5.6)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    codec = get_codec("namc")
    files = sorted(args.librispeech.glob("*/*/*/*.flac"))
    if not files:
        raise SystemExit(f"no LibriSpeech .flac files under {args.librispeech}")
    rows = []
    for path in files:
        speech = load_audio(path).mono()
        at44 = speech.resample(44100).samples[0]
        if at44.size < NOTE_SAMPLES:
            continue
        native = at44[:NOTE_SAMPLES]
        lo, hi = float(native.min()), float(native.max())
        unit = (native - lo) / (hi - lo)  # the note's min-max normalisation to [0, 1]
        dec_unit, kbps_note = code(codec, Audio(unit, 44100), args.kbps)
        dec_native, kbps_native = code(codec, Audio(native, 44100), args.kbps)
        dec_full, kbps_full = code(codec, speech, args.kbps)
        mean = float(unit.mean())
        rows.append(
            {
                "file": path.name,
                "note_snr_db": snr(unit, dec_unit),
                "note_psnr_db": psnr(unit, dec_unit, 1.0),
                "note_stoi": stoi(unit, dec_unit, 44100),
                "ac_snr_db": snr(unit - mean, dec_unit - mean),
                "native_snr_db": snr(native, dec_native),
                "native_psnr_db": psnr(native, dec_native, 1.0),
                "native_stoi": stoi(native, dec_native, 44100),
                "suite_snr_db": snr(speech.samples[0], dec_full),
                "suite_stoi": stoi(speech.samples[0], dec_full, speech.rate),
                "dc_inflation_db": 10 * np.log10(1 + mean**2 / float(unit.var())),
                "unit_mean": mean,
                "kbps_note": kbps_note,
                "kbps_native": kbps_native,
                "kbps_suite": kbps_full,
                "seconds_suite": speech.duration,
            }
        )
    keys = [k for k in rows[0] if k != "file"]
    # Mean over the utterances where the value exists (STOI is NaN on too-short clips).
    means = {k: float(np.nanmean([r[k] for r in rows])) for k in keys}
    missing = {k: int(np.sum(np.isnan([r[k] for r in rows]))) for k in keys}
    print(
        f"NAMC '{codec.name}' at {args.kbps:g} kbps nominal on {len(rows)} LibriSpeech "
        "utterances (mean of per-utterance values)"
    )
    print(f"{'protocol':34} {'SNR dB':>8} {'PSNR dB':>8} {'STOI':>7} {'kbps':>7}")
    print(
        f"{'the note (reported)':34} {NOTE['snr_db']:8.2f} {NOTE['psnr_db']:8.2f} "
        f"{NOTE['stoi']:7.4f} {'?':>7}"
    )
    print(
        f"{'note protocol: [0,1], 20,500 samp.':34} {means['note_snr_db']:8.2f} "
        f"{means['note_psnr_db']:8.2f} {means['note_stoi']:7.4f} {means['kbps_note']:7.2f}"
    )
    print(f"{'  same, mean removed (AC SNR)':34} {means['ac_snr_db']:8.2f} {'':8} {'':7} {'':7}")
    print(
        f"{'native [-1,1], 20,500 samples':34} {means['native_snr_db']:8.2f} "
        f"{means['native_psnr_db']:8.2f} {means['native_stoi']:7.4f} "
        f"{means['kbps_native']:7.2f}"
    )
    print(
        f"{'suite: whole utterance at 16 kHz':34} {means['suite_snr_db']:8.2f} {'':8} "
        f"{means['suite_stoi']:7.4f} {means['kbps_suite']:7.2f}"
    )
    for key, count in missing.items():
        if count:
            print(
                f"{key}: NaN on {count} of {len(rows)} utterances (pystoi: fewer than 30 "
                "non-silent frames); mean over the rest"
            )
    print(
        f"DC offset: mean of the [0,1] signals {means['unit_mean']:.3f}; predicted SNR "
        f"inflation 10*log10(1 + mean^2/var) = {means['dc_inflation_db']:.2f} dB"
    )
    record = {
        "script": "benchmarks/namc_note_protocol.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "codec": codec.name,
        "codec_version": codec.version(),
        "kbps": args.kbps,
        "utterances": len(rows),
        "note_reported": NOTE,
        "mean": means,
        "nan_count": missing,
        "per_utterance": rows,
        "versions": {
            "python": platform.python_version(),
            **{p: version(p) for p in ("numpy", "pystoi", "soxr", "constriction")},
        },
    }
    out = write_record(args.out, "namc_note_protocol_", record)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
