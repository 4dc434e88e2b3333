#!/usr/bin/env python3
"""Measured bitrate and SNR of every NAMC operating point and bitstream mode on the shared
clips, from the real bytes. Not part of the test suite.

    python benchmarks/namc_rates.py [--data DIR]

Corpora: the ESC-50 validation clips (folds 1-3 of esc50-mini, never trained on) at 44.1 kHz
and every LibriSpeech utterance of librispeech-mini at its native 16 kHz (the codec resamples
internally). Bitrates are ``8 * len(bytes) / duration`` per clip, header, min/max side
information, indices and checksum included; the table gives their mean and the SNR mean of the
per-clip values. Writes a JSON record to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.audio import load_audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from bench.namc.transform import snr_db  # noqa: E402
from benchmarks.machine import write_record  # noqa: E402

DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    esc = args.data / "esc50-mini"
    with (esc / "meta" / "esc50.csv").open(newline="") as handle:
        val = [r["filename"] for r in csv.DictReader(handle) if r["fold"] in ("1", "2", "3")]
    corpora = {
        "esc50 val (44.1 kHz)": [load_audio(esc / "audio" / name) for name in val],
        "librispeech (16 kHz)": [
            load_audio(p)
            for p in sorted((args.data / "librispeech-mini" / "LibriSpeech").glob("*/*/*/*.flac"))
        ],
    }
    rows = []
    print(
        f"{'corpus':22} {'codec':12} {'ladder':>7} {'kbps mean':>9} {'min':>6} {'max':>6} "
        f"{'SNR dB':>7}"
    )
    for corpus, clips in corpora.items():
        for name in ("namc", "namc-packed"):
            codec = get_codec(name)
            for kbps in codec.ladder():
                rates, snrs = [], []
                for clip in clips:
                    encoded, decoded = codec.roundtrip(clip, kbps)
                    rates.append(8 * len(encoded.data) / clip.duration / 1000)
                    snrs.append(snr_db(clip.samples[0], decoded.samples[0]))
                row = {
                    "corpus": corpus,
                    "clips": len(clips),
                    "codec": name,
                    "nominal_kbps": kbps,
                    "kbps_mean": float(np.mean(rates)),
                    "kbps_min": float(np.min(rates)),
                    "kbps_max": float(np.max(rates)),
                    "snr_db_mean": float(np.mean(snrs)),
                }
                rows.append(row)
                print(
                    f"{corpus:22} {name:12} {kbps:7.1f} {row['kbps_mean']:9.2f} "
                    f"{row['kbps_min']:6.2f} {row['kbps_max']:6.2f} {row['snr_db_mean']:7.2f}"
                )
    record = {
        "script": "benchmarks/namc_rates.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "codec_versions": {n: get_codec(n).version() for n in ("namc", "namc-packed")},
        "python": platform.python_version(),
        "results": rows,
    }
    out = write_record(args.out, "namc_rates_", record)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
