"""Tiny randomly initialised neural peers, saved the way real checkpoints are saved.

Each builder makes a model from a small config (same rates, hops and codebook sizes as the real
checkpoint, so the codes and the bit accounting are the real ones; only the widths are tiny),
fills the codebooks (EnCodec's and Mimi's start at zero, which would make every code 0), and
``save_pretrained``s it. Tests then point the suite at the folder (``BENCH_WEIGHTS_<NAME>``) or
lay it out as a Hugging Face cache, and load it through the codec, the path users take.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.audio import Audio


def fill_codebooks(model: Any, seed: int = 0) -> Any:
    """Give every zero-initialised codebook random entries (EnCodec ``embed``, Mimi
    ``embed_sum``)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name.endswith("codebook.embed") or name.endswith("codebook.embed_sum"):
                buffer.copy_(torch.randn(buffer.shape, generator=generator))
    return model


def tiny_encodec(rate: int = 24000) -> Any:
    """A tiny EnCodec with the real model's rate, hop (320), codebooks and bandwidths."""
    import torch
    from transformers import EncodecConfig, EncodecModel

    torch.manual_seed(rate)
    common = dict(
        hidden_size=8, num_filters=2, num_residual_layers=1, num_lstm_layers=1,
        codebook_dim=8, codebook_size=1024, upsampling_ratios=[8, 5, 4, 2],
    )  # fmt: skip
    if rate == 24000:
        config = EncodecConfig(
            sampling_rate=24000, audio_channels=1,
            target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0], **common,
        )  # fmt: skip
    else:  # the 48 kHz model: stereo, 1-s segments with 1 % overlap, normalised
        config = EncodecConfig(
            sampling_rate=48000, audio_channels=2, target_bandwidths=[3.0, 6.0, 12.0, 24.0],
            chunk_length_s=1.0, overlap=0.01, normalize=True, use_causal_conv=False,
            norm_type="time_group_norm", **common,
        )  # fmt: skip
    return fill_codebooks(EncodecModel(config), seed=rate)


def tiny_mimi() -> Any:
    """A tiny Mimi: 24 kHz, 1920-sample frames (12.5 Hz), 32 codebooks of 2048."""
    import torch
    from transformers import MimiConfig, MimiModel

    torch.manual_seed(3)
    config = MimiConfig(
        hidden_size=16, num_filters=2, num_residual_layers=1, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, head_dim=8, intermediate_size=16,
        codebook_dim=8, vector_quantization_hidden_dimension=8, num_quantizers=32,
        codebook_size=2048, upsample_groups=16,
    )  # fmt: skip
    return fill_codebooks(MimiModel(config), seed=3)


def save_hf(model: Any, folder: Path) -> Path:
    """``save_pretrained`` into ``folder`` (config.json + model.safetensors)."""
    model.save_pretrained(folder)
    return folder


def hf_cache_layout(model: Any, cache: Path, repo: str, revision: str = "a1b2c3d4" * 5) -> Path:
    """Save ``model`` as the Hugging Face hub cache holds a download: files in ``blobs/`` (named
    by hash), ``snapshots/<revision>/`` linking to them, ``refs/main`` naming the revision."""
    staging = cache / ".staging"
    model.save_pretrained(staging)
    repo_dir = cache / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for file in staging.iterdir():
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        blob = repo_dir / "blobs" / digest
        shutil.move(str(file), blob)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / file.name)
    staging.rmdir()
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved tiny checkpoint per peer model, built once per session."""
    root = tmp_path_factory.mktemp("neural-checkpoints")
    return {
        "encodec24": save_hf(tiny_encodec(24000), root / "encodec24"),
        "encodec48": save_hf(tiny_encodec(48000), root / "encodec48"),
        "mimi": save_hf(tiny_mimi(), root / "mimi"),
    }


@pytest.fixture
def peers(
    checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[dict[str, Path]]:
    """Point every peer at its tiny checkpoint (and the other look-up places at empty ones)."""
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf-cache"))
    for name, folder in checkpoints.items():
        monkeypatch.setenv("BENCH_WEIGHTS_" + name.upper(), str(folder))
    yield checkpoints


def noise(rate: int, seconds: float, channels: int = 1, seed: int = 0) -> Audio:
    """Band-limited-ish test signal: white noise plus a tone, scaled to -20 dBFS."""
    rng = np.random.default_rng(seed)
    frames = round(rate * seconds)
    t = np.arange(frames) / rate
    tone = np.sin(2 * np.pi * 440 * t)[None] * np.ones((channels, 1))
    samples = 0.05 * rng.standard_normal((channels, frames)) + 0.1 * tone
    return Audio(samples.astype(np.float32), rate)


def reencode(data: bytes, change: Callable[[bytearray], None]) -> bytes:
    """``data`` with ``change`` applied and the CRC-32 recomputed (a forged, well-formed stream)."""
    import zlib

    body = bytearray(data[:-4])
    change(body)
    return bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little")
