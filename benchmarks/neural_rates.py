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
from benchmarks.machine import write_record  # noqa: E402

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


def _dac(ratios: list[int], n_codebooks: int, rate: int) -> Callable[[], Any]:
    def build() -> Any:
        from transformers import DacConfig, DacModel

        # hop_length=512 as in the published dac_16khz/dac_24khz config.json (stale; the adapter
        # takes the hop from downsampling_ratios).
        config = DacConfig(
            downsampling_ratios=ratios, n_codebooks=n_codebooks, sampling_rate=rate, hop_length=512
        )
        return DacModel(config)

    return build


class _SnacCheckpoint:
    """SNAC has no ``save_pretrained``: write what ``SNAC.from_pretrained`` reads."""

    def __init__(self, name: str) -> None:
        self.name = name

    def save_pretrained(self, folder: Path) -> None:
        import torch
        from snac import SNAC

        from bench.codecs.neural.snac_codec import CONFIGS

        folder = Path(folder)
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(CONFIGS[self.name]), encoding="utf-8")
        torch.save(SNAC(**CONFIGS[self.name]).state_dict(), folder / "pytorch_model.bin")


#: Codec name -> builder of a full-size model with random weights (same config as the real one).
BUILDERS: dict[str, Callable[[], Any]] = {
    "encodec24": _encodec24,
    "encodec48": _encodec48,
    "mimi": _mimi,
    "dac16": _dac([2, 4, 5, 8], 12, 16000),
    "dac16-file": _dac([2, 4, 5, 8], 12, 16000),
    "dac24": _dac([2, 4, 5, 8], 32, 24000),
    "dac24-file": _dac([2, 4, 5, 8], 32, 24000),
    "dac44": _dac([2, 4, 8, 8], 9, 44100),
    "dac44-file": _dac([2, 4, 8, 8], 9, 44100),
    "snac24": lambda: _SnacCheckpoint("snac24"),
    "snac32": lambda: _SnacCheckpoint("snac32"),
    "snac44": lambda: _SnacCheckpoint("snac44"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    # The packed bytes depend only on length and rate: all ESC-50 clips are 5 s at 44.1 kHz, and a
    # few LibriSpeech utterances show the spread of lengths (full-size models are slow on CPU).
    parser.add_argument("--clips", type=int, default=5, help="clips per corpus (default 5)")
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
    out = write_record(args.out, "neural_rates_", record)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
