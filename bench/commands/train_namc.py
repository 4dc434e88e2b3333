"""``python -m bench train-namc``: train a NAMC operating point on ESC-50 and write its weights."""

from __future__ import annotations

import argparse
import hashlib
import shlex
from pathlib import Path
from typing import Any

from bench.errors import BenchError

HELP = "train a NAMC operating point on ESC-50 folds and write its weights (.npz + .json)"

DESCRIPTION = """\
Train the NAMC neural codec from scratch on ESC-50 training folds, validate on held-out folds,
and write FILE.npz (weights, codebooks, index prior) and FILE.json (config, training data,
seed, versions, validation SNR and codebook perplexity).

The defaults fit esc50-mini (fold 4 holds 200 of its 209 clips): train on every fold present
except the validation folds 1,2,3. With the full ESC-50 use e.g. --folds 1,2,3,4 --val-folds 5.

Deterministic: the same data, config, seed, --threads and machine give the same weights.

Reproduce the shipped operating points (30-60 s each on an idle 2-core machine):
  python -m bench train-namc --datasets esc50=../shared/data/esc50-mini \\
      --config note --out bench/namc/weights/note.npz
  (and --config lowrate / rvq2 / rvq4 with the matching --out)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``train-namc``."""
    parser.add_argument(
        "--datasets",
        required=True,
        metavar="esc50=PATH",
        help="the ESC-50 corpus: esc50=PATH (the folder holding audio/ and meta/esc50.csv, or "
        "the extracted GitHub archive), or esc50 to look under --data-root",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path("datasets"),
        metavar="DIR",
        help="where a bare 'esc50' is looked up (default: %(default)s)",
    )
    parser.add_argument(
        "--folds",
        default=None,
        metavar="LIST",
        help="training folds, comma-separated (default: every fold present but --val-folds)",
    )
    parser.add_argument(
        "--val-folds",
        default="1,2,3",
        metavar="LIST",
        help="held-out validation folds (default: 1,2,3)",
    )
    parser.add_argument(
        "--config",
        default="note",
        metavar="NAME_OR_JSON",
        help='preset (note, lowrate, rvq2, rvq4) or JSON overrides, e.g. \'{"base": "rvq2", '
        '"steps": 500}\' (default: note)',
    )
    parser.add_argument("--steps", type=int, default=None, help="override the config's steps")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default: 1; part of the result: another count may change the "
        "weights' last bits; more threads help little for a model this small and hurt badly on "
        "a busy machine)",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="weights file (FILE.npz)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or step log")


def parse_folds(text: str | None) -> list[int] | None:
    """``"1,2,3"`` -> ``[1, 2, 3]``; ``None`` stays ``None``."""
    if text is None:
        return None
    try:
        folds = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise BenchError(f"folds must be comma-separated integers, got {text!r}") from None
    if not folds:
        raise BenchError("no fold given")
    return folds


def esc50_spec(text: str, data_root: Path) -> Any:
    """The one ESC-50 dataset named by ``--datasets`` (other datasets are refused)."""
    from bench.datasets import parse_datasets_arg

    specs = parse_datasets_arg(text, data_root)
    if len(specs) != 1 or specs[0].kind != "esc50":
        raise BenchError(
            f"train-namc trains on ESC-50 only: give --datasets esc50=PATH (got {text!r})"
        )
    return specs[0]


def main(args: argparse.Namespace) -> int:
    """Train, evaluate and write the weights."""
    import dataclasses

    from bench.namc.config import get_config
    from bench.namc.weights import paths_for, save_weights

    try:
        import torch  # noqa: F401
    except ImportError:
        raise BenchError(
            "train-namc needs PyTorch: pip install -c constraints.txt -e '.[train]'"
        ) from None
    from bench.namc.train import train

    config = get_config(args.config)
    if args.steps is not None:
        config = dataclasses.replace(config, steps=args.steps)
    if args.threads < 1:
        raise BenchError("--threads must be >= 1")
    from bench.datasets import load_clips

    spec = esc50_spec(args.datasets, args.data_root)
    root = spec.path
    # File-name order, independent of the loader's listing order: the order clips enter
    # training is part of the result (the shipped weights were trained in this order).
    clips = sorted(load_clips(spec), key=lambda clip: str(clip.meta["filename"]))
    present = sorted({int(clip.meta["fold"]) for clip in clips})
    val_folds = parse_folds(args.val_folds) or []
    train_folds = parse_folds(args.folds) or [f for f in present if f not in val_folds]
    if set(train_folds) & set(val_folds):
        raise BenchError(f"training folds {train_folds} overlap validation folds {val_folds}")
    train_rows = [c for c in clips if int(c.meta["fold"]) in train_folds]
    val_rows = [c for c in clips if int(c.meta["fold"]) in val_folds]
    if not train_rows or not val_rows:
        raise BenchError(
            f"no clips in training folds {train_folds} or validation folds {val_folds} "
            f"(folds present: {present})"
        )
    say = (lambda _m: None) if args.quiet else print
    say(
        f"NAMC {config.name}: {config.parameter_count()['total']} weights, "
        f"{config.nominal_kbps:g} kbps nominal; training on {len(train_rows)} clips "
        f"(folds {train_folds}), validating on {len(val_rows)} (folds {val_folds})"
    )
    train_audio = [clip.load() for clip in train_rows]
    val_audio = [clip.load() for clip in val_rows]
    result = train(
        config,
        train_audio,
        val_audio,
        seed=args.seed,
        threads=args.threads,
        val_names=[str(c.meta["filename"]) for c in val_rows],
        progress=not args.quiet,
        log=say,
    )
    digest = hashlib.sha256()
    for row, audio in zip(train_rows, train_audio, strict=True):
        digest.update(f"{row.meta['filename']}:{audio.content_hash()};".encode())
    npz, meta = paths_for(args.out)
    command = [
        "python -m bench train-namc",
        f"--datasets esc50={shlex.quote(str(root))}",
        f"--folds {','.join(map(str, train_folds))}",
        f"--val-folds {','.join(map(str, val_folds))}",
        f"--config {shlex.quote(args.config)}",
        *([f"--steps {args.steps}"] if args.steps is not None else []),
        f"--seed {args.seed}",
        f"--threads {args.threads}",
        f"--out {shlex.quote(str(args.out))}",
    ]
    record = dict(result.record)
    record["data"] = {
        "dataset": "esc50",
        "folder": root.name,
        "train_folds": train_folds,
        "val_folds": val_folds,
        "train_clips": [str(c.meta["filename"]) for c in train_rows],
        "val_clips": [str(c.meta["filename"]) for c in val_rows],
        "train_audio_sha256": digest.hexdigest(),
        "split": "held-out ESC-50 folds (ESC-50 keeps clips of one source recording in one fold)",
    }
    record["training"] = {**record["training"], "command": " ".join(command)}
    save_weights(npz, result.model, record)
    validation = result.record["validation"]
    print(
        f"wrote {npz} and {meta.name}: validation SNR {validation['snr_db_mean']:.2f} dB "
        f"(mean of {validation['clips']} clips), perplexity "
        + ", ".join(f"{p:.1f}" for p in validation["perplexity"])
        + f" of {config.codebook_size}, range-coded "
        f"{validation['range_coded_bits_per_frame']:.2f} vs packed "
        f"{validation['packed_bits_per_frame']} bits per frame"
    )
    return 0
