#!/usr/bin/env python3
"""Nominal vs measured bitrate of every neural peer operating point on the shared clips.

    python benchmarks/neural_rates.py [--data DIR] [--clips N] [--codecs encodec24,mimi,...]

The peers' weights cannot be downloaded here, so each peer runs a FULL-SIZE model of the
published configuration with random weights, saved with ``save_pretrained`` and loaded through
the codec as users' checkpoints are. The packed bitstream's length depends only on the clip's
length and rate and the operating point (frames x codebooks x bits + header + side
information), never on the weights, so these measured rates are the ones the real checkpoints
give. Range-coded (``-rc``) rates depend on the codes, hence on the weights, and are not
measured here. Bitrates are ``8 * len(bytes) / duration`` per clip. Writes a JSON record to
``benchmarks/results/``. A codec whose builder is not in ``BUILDERS`` is skipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.audio import load_audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from bench.fsutil import atomic_write_text  # noqa: E402

DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data"))


def _encodec24() -> Any:
    from transformers import EncodecConfig, EncodecModel

    return EncodecModel(EncodecConfig())  # the defaults are facebook/encodec_24khz's config


def _encodec48() -> Any:
    from transformers import EncodecConfig, EncodecModel

    return EncodecModel(
        EncodecConfig(
            sampling_rate=48000,
            audio_channels=2,
            target_bandwidths=[3.0, 6.0, 12.0, 24.0],
            chunk_length_s=1.0,
            overlap=0.01,
            normalize=True,
            use_causal_conv=False,
            norm_type="time_group_norm",
        )  # fmt: skip  (facebook/encodec_48khz's config.json)
    )


def _mimi() -> Any:
    from transformers import MimiConfig, MimiModel

    return MimiModel(MimiConfig())  # the defaults are kyutai/mimi's config


#: Codec name -> builder of a full-size model with random weights (same config as the real one).
BUILDERS: dict[str, Callable[[], Any]] = {
    "encodec24": _encodec24,
    "encodec48": _encodec48,
    "mimi": _mimi,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--clips", type=int, default=20, help="clips per corpus (default 20)")
    parser.add_argument("--codecs", default=",".join(BUILDERS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    import torch

    esc = args.data / "esc50-mini"
    with (esc / "meta" / "esc50.csv").open(newline="") as handle:
        names = sorted(r["filename"] for r in csv.DictReader(handle))[: args.clips]
    speech = sorted((args.data / "librispeech-mini" / "LibriSpeech").glob("*/*/*/*.flac"))
    corpora = {
        "esc50 (44.1 kHz, 5 s)": [load_audio(esc / "audio" / name) for name in names],
        "librispeech (16 kHz)": [load_audio(p) for p in speech[: args.clips]],
    }
    rows = []
    versions = {}
    print(f"{'corpus':24} {'codec':10} {'nominal':>8} {'kbps mean':>9} {'min':>6} {'max':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.codecs.split(","):
            if name not in BUILDERS:
                print(f"(no full-size builder for {name}; skipped)")
                continue
            torch.manual_seed(0)
            folder = Path(tmp) / name
            BUILDERS[name]().save_pretrained(folder)
            codec = get_codec(name)
            os.environ[codec.weights.env_var] = str(folder)
            versions[name] = codec.version()
            for corpus, clips in corpora.items():
                for kbps in codec.ladder():
                    rates = [8 * len(codec.encode(c, kbps).data) / c.duration / 1000 for c in clips]
                    row = {
                        "corpus": corpus, "clips": len(clips), "codec": name,
                        "nominal_kbps": kbps, "kbps_mean": float(np.mean(rates)),
                        "kbps_min": float(np.min(rates)), "kbps_max": float(np.max(rates)),
                    }  # fmt: skip
                    rows.append(row)
                    print(
                        f"{corpus:24} {name:10} {kbps:8g} {row['kbps_mean']:9.3f} "
                        f"{row['kbps_min']:6.3f} {row['kbps_max']:6.3f}",
                        flush=True,
                    )
    record = {
        "script": "benchmarks/neural_rates.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "weights": "full-size published configs, random weights (packed rates do not depend "
        "on the weights)",
        "codec_versions": versions,
        "python": platform.python_version(),
        "results": rows,
    }
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out / f"neural_rates_{stamp}.json"
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
