"""Training: deterministic, reproduces the shipped default quality, and the command writes
loadable weights with a complete record."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench.audio import load_audio
from bench.cli import main as cli_main
from bench.errors import BenchError
from bench.namc.config import PRESETS, get_config
from bench.namc.norm import quantise_bounds
from bench.namc.weights import load_weights, shipped_operating_points

#: Steps of the short schedule the reproduction test trains (the shipped ``note`` used 2000).
SHORT_STEPS = 500
#: The short schedule must come within this many dB of the shipped weights' validation SNR.
SHORT_TOLERANCE_DB = 1.25


def esc50_split(root: Path) -> tuple[list, list]:
    with (root / "meta" / "esc50.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    train = [load_audio(root / "audio" / r["filename"]) for r in rows if r["fold"] == "4"]
    val = [load_audio(root / "audio" / r["filename"]) for r in rows if r["fold"] != "4"]
    return train, val


def tiny_run(seed: int):  # type: ignore[no-untyped-def]
    from bench.namc.train import train

    config = dataclasses.replace(PRESETS["rvq2"], steps=6, batch=4, norm_block=630)
    rng = np.random.default_rng(0)
    clips = [rng.uniform(-0.5, 0.5, 3000).astype(np.float32) for _ in range(3)]
    return train(config, clips, clips[:1], seed=seed, threads=1, progress=False)


def test_training_is_deterministic() -> None:
    a, b, c = tiny_run(0), tiny_run(0), tiny_run(1)
    assert a.model.digest == b.model.digest
    assert a.record["validation"] == b.record["validation"]
    assert c.model.digest != a.model.digest


def test_short_schedule_reproduces_the_shipped_quality(esc50_dir: Path) -> None:
    """Train the default configuration from scratch with a short schedule and compare its
    validation SNR (held-out folds 1-3, codec path) with the one recorded for the shipped
    weights. The full schedule (docs/namc.md) reproduces the shipped weights bit for bit on
    the machine that made them."""
    from bench.namc.train import train

    shipped = shipped_operating_points()["note"][1]["validation"]["snr_db_mean"]
    train_clips, val_clips = esc50_split(esc50_dir)
    config = dataclasses.replace(PRESETS["note"], steps=SHORT_STEPS)
    result = train(config, train_clips, val_clips, seed=0, threads=1, progress=False)
    got = result.record["validation"]["snr_db_mean"]
    assert shipped - SHORT_TOLERANCE_DB <= got <= shipped + 0.5, (got, shipped)
    assert result.model.parameter_count() == 4943


@pytest.mark.slow
def test_full_schedule_reproduces_the_shipped_weights(esc50_dir: Path) -> None:
    """The documented command's schedule, from scratch: same validation SNR within 0.3 dB on
    any machine, and the very same weights on one like the machine that made them."""
    from bench.namc.train import train

    model, record = shipped_operating_points()["note"]
    train_clips, val_clips = esc50_split(esc50_dir)
    result = train(PRESETS["note"], train_clips, val_clips, seed=0, threads=1, progress=False)
    got = result.record["validation"]["snr_db_mean"]
    assert got == pytest.approx(record["validation"]["snr_db_mean"], abs=0.3)
    if result.model.digest != model.digest:
        pytest.xfail("same quality, different float rounding than the machine that made them")


def test_train_namc_command_writes_weights_and_record(esc50_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    status = cli_main(
        [
            "train-namc",
            "--datasets",
            f"esc50={esc50_dir}",
            "--config",
            '{"base": "note", "steps": 3, "batch": 4}',
            "--threads",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    model, record = load_weights(tmp_path / "tiny.npz")
    assert model.config.steps == 3 and model.parameter_count() == 4943
    assert record["data"]["train_folds"] == [4] and record["data"]["val_folds"] == [1, 2, 3]
    assert len(record["data"]["train_clips"]) == 200
    assert record["training"]["threads"] == 1 and "--threads 1" in record["training"]["command"]
    assert record["validation"]["clips"] == 9
    # The prior counts every coded frame of the training clips: frames of digitally silent
    # (constant) blocks are not coded.
    coded = 0
    for name in record["data"]["train_clips"]:
        x = load_audio(esc50_dir / "audio" / name).samples[0]
        blocks = x.reshape(-1, 4410)  # 5-s clips: 50 whole blocks
        lo, hi = quantise_bounds(blocks.min(axis=1), blocks.max(axis=1))
        coded += int(np.sum(hi > lo)) * (4410 // 63)
    assert model.arrays["prior.counts"].sum() == coded
    assert model.arrays["prior.counts"].shape == (1, 256)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--datasets", "librispeech={libri}"], "ESC-50 only"),
        (["--datasets", "esc50", "--data-root", "{tmp}"], "download it with"),
        (["--datasets", "esc50={esc}", "--folds", "1,4"], "overlap"),
        (["--datasets", "esc50={esc}", "--folds", "9"], "no clips"),
        (["--datasets", "esc50={esc}", "--folds", "a"], "integers"),
        (["--datasets", "esc50={tmp}"], "not an ESC-50 folder"),
        (["--datasets", "esc50={esc}", "--config", "huge"], "unknown NAMC config"),
    ],
)
def test_train_namc_command_errors(
    esc50_dir: Path, librispeech_dir: Path, tmp_path: Path, capsys, args: list[str], message: str
) -> None:
    args = [a.format(esc=esc50_dir, tmp=tmp_path, libri=librispeech_dir) for a in args]
    status = cli_main(["train-namc", *args, "--out", str(tmp_path / "w"), "--quiet"])
    assert status == 2
    assert message in capsys.readouterr().err


def test_config_parsing() -> None:
    assert get_config(None) is PRESETS["note"]
    assert get_config("rvq4").codebooks == 4
    assert get_config('{"base": "rvq2", "steps": 7}').steps == 7
    for bad, message in [
        ("nope", "unknown NAMC config"),
        ("{bad json", "neither a preset"),
        ('{"frames": 3}', "unknown NAMC config field"),
        ('{"steps": "7"}', "must be int"),
        ('{"frame": 63, "norm_block": 100}', "multiple of frame"),
        ('{"base": "nope"}', "unknown NAMC base"),
    ]:
        with pytest.raises(BenchError, match=message):
            get_config(bad)
