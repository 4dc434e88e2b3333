"""Training NAMC from plain lists of clips (no knowledge of where they come from).

One step: draw ``batch`` random segments of ``norm_block`` samples from the training clips,
min-max normalise each with its *coded* bounds (exactly as the codec will), cut into frames,
run the network, and minimise

    time_weight * MSE  +  spectral_weight * multi-resolution STFT loss  +  commitment * VQ term

(the codebooks follow an EMA of their assigned residuals, so there is no separate codebook
loss). Adam with a one-cycle schedule, so a short schedule also ends annealed.

Determinism: the same seed, data, thread count and machine give the same weights
(``torch.use_deterministic_algorithms(True)``, ``torch.set_num_threads(threads)``, one numpy
``Generator`` for the segment draws, the torch generator seeded for the rest). Another CPU or
thread count may change float rounding and therefore the weights slightly.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.audio import Audio
from bench.errors import BenchError
from bench.namc import entropy
from bench.namc.config import SAMPLE_RATE, NamcConfig
from bench.namc.model import NamcModel
from bench.namc.norm import block_bounds, bounds_from_codes, normalise
from bench.namc.transform import analyse, roundtrip, snr_db


@dataclass(frozen=True)
class TrainResult:
    """Trained model (numpy inference form, prior included) and its record for the JSON."""

    model: NamcModel
    record: dict[str, Any]


def prepare_clip(clip: Audio | np.ndarray) -> np.ndarray:
    """1-D float32 at 44.1 kHz: an :class:`Audio` is mixed to mono and resampled; an array is
    taken as mono samples already at 44.1 kHz."""
    if isinstance(clip, Audio):
        return clip.mono().resample(SAMPLE_RATE).samples[0].astype(np.float32)
    array = np.asarray(clip, dtype=np.float32)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"a training clip array must be 1-D and non-empty, got {array.shape}")
    return array


def draw_segments(
    clips: Sequence[np.ndarray], config: NamcConfig, rng: np.random.Generator
) -> np.ndarray:
    """``(m, norm_block)`` normalised segments (``m <= batch``: silent draws are dropped)."""
    size = config.norm_block
    rows = np.zeros((config.batch, size), dtype=np.float32)
    which = rng.integers(0, len(clips), config.batch)
    for row, c in enumerate(which):
        clip = clips[c]
        if clip.size <= size:
            rows[row, : clip.size] = clip
        else:
            start = int(rng.integers(0, clip.size - size + 1))
            rows[row] = clip[start : start + size]
    lo, hi = block_bounds(rows)
    centre, half = bounds_from_codes(lo, hi)
    # A digitally silent segment has nothing to teach (its normalised form is all zeros).
    return normalise(rows, centre, half)[half > 0]


def evaluate(model: NamcModel, clips: Sequence[np.ndarray], names: Sequence[str] | None = None):
    """Validation through the codec's own path (coded bounds, clamping, numpy inference):
    SNR per clip in dB and the index statistics. Silent references are skipped (NaN)."""
    per_clip = []
    counts = np.zeros((model.config.codebooks, model.config.codebook_size), dtype=np.int64)
    for i, clip in enumerate(clips):
        analysis = analyse(model, clip)
        for n in range(model.config.codebooks):
            counts[n] += np.bincount(analysis.indices[:, n], minlength=counts.shape[1])
        decoded = roundtrip(model, clip)
        per_clip.append(
            {"clip": names[i] if names else str(i), "snr_db": round(snr_db(clip, decoded), 4)}
        )
    values = np.array([c["snr_db"] for c in per_clip], dtype=np.float64)
    finite = values[np.isfinite(values)]
    frames = int(counts[0].sum())
    prior = model.arrays["prior.counts"]
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        perplexity = np.exp(-np.nansum(np.where(probs > 0, probs * np.log(probs), 0.0), axis=1))
    cross = entropy.prior_probabilities(prior)
    bits = float(-(counts * np.log2(cross)).sum() / max(frames, 1))
    return {
        "snr_db_mean": round(float(finite.mean()), 4) if finite.size else None,
        "snr_db_median": round(float(np.median(finite)), 4) if finite.size else None,
        "clips": len(per_clip),
        "frames": frames,
        "perplexity": [round(float(p), 3) for p in perplexity],
        "range_coded_bits_per_frame": round(bits, 4),
        "packed_bits_per_frame": model.config.codebooks * model.config.index_bits,
        "per_clip": per_clip,
    }


def index_counts(model: NamcModel, clips: Sequence[np.ndarray]) -> np.ndarray:
    """How often each index of each codebook is chosen over whole ``clips``: the prior."""
    counts = np.zeros((model.config.codebooks, model.config.codebook_size), dtype=np.int64)
    for clip in clips:
        indices = analyse(model, clip).indices
        for n in range(counts.shape[0]):
            counts[n] += np.bincount(indices[:, n], minlength=counts.shape[1])
    return counts


def library_versions() -> dict[str, str]:
    """Versions that change training results."""
    import constriction  # noqa: F401  (imported to make sure the prior can be used)
    import torch

    from bench import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "namc-bench": __version__,
        "machine": f"{platform.system()} {platform.machine()} {platform.processor()}".strip(),
    }


def train(
    config: NamcConfig,
    train_clips: Sequence[Audio | np.ndarray],
    val_clips: Sequence[Audio | np.ndarray],
    *,
    seed: int = 0,
    threads: int = 1,
    val_names: Sequence[str] | None = None,
    eval_every: int = 500,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``config`` from scratch on ``train_clips``; validate on ``val_clips``.

    Clips are :class:`Audio` (any rate, mixed to mono) or 1-D arrays at 44.1 kHz. Returns the
    model with its prior (index counts over the training clips) and a record of the run:
    losses, per-codebook perplexity, validation SNR, timing and library versions.
    """
    try:
        import torch
    except ImportError:  # NAMC inference is numpy; only training needs the [train] extra
        raise BenchError("training NAMC needs PyTorch: pip install -e '.[train]'") from None
    from tqdm import tqdm

    from bench.namc.torch_model import NamcNet, multi_resolution_stft_loss

    if not train_clips or not val_clips:
        raise ValueError("training needs at least one training and one validation clip")
    say = log or (lambda _msg: None)
    train_data = [prepare_clip(c) for c in train_clips]
    val_data = [prepare_clip(c) for c in val_clips]

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new tensor with NaN by default, which costs more
    # than the training itself here and is not needed for reproducibility.
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    net = NamcNet(config)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, total_steps=config.steps, pct_start=0.1
    )
    history: list[dict[str, Any]] = []
    running: dict[str, float] = {}
    started = time.perf_counter()
    bar = tqdm(total=config.steps, desc=f"train-namc {config.name}", disable=not progress)

    def snapshot() -> NamcModel:
        arrays = net.export()
        arrays["prior.counts"] = np.zeros((config.codebooks, config.codebook_size), np.int64)
        return NamcModel(config, arrays)

    net.train()
    for step in range(1, config.steps + 1):
        segments = draw_segments(train_data, config, rng)
        if segments.shape[0] == 0:
            continue
        target = torch.from_numpy(segments)
        frames = target.reshape(-1, config.frame)  # rows = frames; never across the feature axis
        decoded, _, commitment, perplexity = net(frames)
        decoded = decoded.reshape(target.shape)
        time_loss = torch.nn.functional.mse_loss(decoded, target)
        spectral = (
            multi_resolution_stft_loss(target, decoded)
            if config.spectral_weight > 0
            else target.new_zeros(())
        )
        loss = (
            config.time_weight * time_loss
            + config.spectral_weight * spectral
            + config.commitment * commitment
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()

        current = {
            "loss": float(loss.detach()),
            "time_mse": float(time_loss.detach()),
            "spectral": float(spectral.detach()),
            "commitment": float(commitment.detach()),
        }
        for n, p in enumerate(perplexity):
            current[f"perplexity_{n}"] = p
        for key, value in current.items():  # smoothed for display and the record
            running[key] = value if key not in running else 0.95 * running[key] + 0.05 * value
        bar.update(1)
        if step % 20 == 0 or step == config.steps:
            perp = "/".join(f"{running[f'perplexity_{n}']:.0f}" for n in range(len(perplexity)))
            bar.set_postfix(loss=f"{running['loss']:.3f}", perplexity=perp)
        if step % eval_every == 0 or step == config.steps:
            net.eval()
            metrics = evaluate(snapshot(), val_data)
            net.train()
            entry = {"step": step, **{k: round(v, 5) for k, v in running.items()}}
            entry["val_snr_db"] = metrics["snr_db_mean"]
            history.append(entry)
            say(
                f"step {step}: loss {running['loss']:.4f} (time {running['time_mse']:.4f}, "
                f"spectral {running['spectral']:.3f}, commitment {running['commitment']:.4f}), "
                "perplexity "
                + ", ".join(f"{running[f'perplexity_{n}']:.1f}" for n in range(config.codebooks))
                + f", validation SNR {metrics['snr_db_mean']:.2f} dB"
            )
    bar.close()
    seconds = time.perf_counter() - started

    arrays = net.export()
    arrays["prior.counts"] = index_counts(snapshot(), train_data)
    model = NamcModel(config, arrays)
    validation = evaluate(model, val_data, val_names)
    record = {
        "training": {
            "seed": seed,
            "threads": threads,
            "steps": config.steps,
            "batch": config.batch,
            "seconds": round(seconds, 1),
            "train_clips": len(train_data),
            "train_seconds_of_audio": round(sum(c.size for c in train_data) / SAMPLE_RATE, 2),
            "val_clips": len(val_data),
            "history": history,
            "versions": library_versions(),
        },
        "validation": validation,
    }
    return TrainResult(model=model, record=record)
