"""Clip values, metadata and the preparation protocols (native, --max-seconds, seed)."""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import numpy as np
import pytest

from bench.audio import Audio
from bench.datasets import SEED_FRAMES, SEED_RATE, Clip, Meta, load_clips, parse_datasets_arg
from bench.datasets.clip import PROTOCOLS
from bench.errors import AudioError, BenchError, UnknownNameError


def test_meta_is_a_hashable_picklable_json_mapping() -> None:
    meta = Meta({"fold": 1, "category": "dog"}, esc10=True, transcript=None, seconds=2.5)
    assert dict(meta) == {
        "category": "dog",
        "esc10": True,
        "fold": 1,
        "seconds": 2.5,
        "transcript": None,
    }
    assert hash(meta) == hash(Meta(dict(meta)))
    assert meta == dict(meta)
    assert pickle.loads(pickle.dumps(meta)) == meta
    assert json.loads(json.dumps(dict(meta))) == dict(meta)
    assert Meta(fold=np.int64(3))["fold"] == 3 and type(Meta(fold=np.int64(3))["fold"]) is int
    with pytest.raises(TypeError, match="JSON scalar"):
        Meta(folds=[1, 2])
    with pytest.raises(ValueError, match="not finite"):
        Meta(x=math.nan)


def test_clip_is_frozen_hashable_and_picklable(esc50_dir: Path) -> None:
    clip = load_clips(parse_datasets_arg(f"esc50={esc50_dir}")[0], limit=1)[0]
    with pytest.raises(FrozenInstanceError):
        clip.clip_id = "x"  # type: ignore[misc]
    assert {clip: 1}[pickle.loads(pickle.dumps(clip))] == 1
    assert clip.meta["protocol"] == "native"
    described = clip.describe()
    assert json.loads(json.dumps(described)) == described
    assert described["key"] == f"esc50/{clip.clip_id}"
    with pytest.raises(ValueError, match="domain"):
        Clip("d", "c", "music", None)
    with pytest.raises(ValueError, match="clip id"):
        Clip("d", "", "audio", None)
    with pytest.raises(UnknownNameError, match="valid: native, seed"):
        Clip("d", "c", "audio", None, protocol="lossy")


def test_max_seconds_keeps_the_first_seconds(librispeech_dir: Path) -> None:
    (spec,) = parse_datasets_arg(f"librispeech={librispeech_dir}")
    full = load_clips(spec, limit=3)
    cut = load_clips(spec, limit=3, max_seconds=1.5)
    for whole, part in zip(full, cut, strict=True):
        a, b = whole.load(), part.load()
        assert b.frames == min(a.frames, round(1.5 * a.rate))
        assert np.array_equal(b.samples, a.samples[:, : b.frames])
        assert part.meta["max_seconds"] == 1.5 and part.clip_id == whole.clip_id
        assert part.key.endswith("@max1.5s") and part.key != whole.key
    long = load_clips(spec, max_seconds=1000.0, limit=1)[0]
    assert long.load().frames == load_clips(spec, limit=1)[0].load().frames
    with pytest.raises(BenchError, match="max-seconds"):
        load_clips(spec, max_seconds=0)


def test_seed_protocol_reproduces_the_note(esc50_dir: Path, librispeech_dir: Path) -> None:
    clips = load_clips(parse_datasets_arg(f"esc50={esc50_dir}")[0], protocol="seed", limit=3)
    clips += load_clips(
        parse_datasets_arg(f"librispeech={librispeech_dir}")[0], protocol="seed", limit=2
    )
    for clip in clips:
        audio = clip.load()
        assert (audio.rate, audio.channels, audio.frames) == (SEED_RATE, 1, SEED_FRAMES)
        assert float(audio.samples.min()) == 0.0 and float(audio.samples.max()) == 1.0
        assert clip.meta["protocol"] == "seed" and clip.key.endswith("@seed")
        # the first 20,500 samples at 44.1 kHz, min-max scaled: check against a direct computation
        native = clip.load_native().mono().resample(SEED_RATE).samples[0, :SEED_FRAMES]
        native = native.astype(np.float64)
        expected = (native - native.min()) / (native.max() - native.min())
        assert np.allclose(audio.samples[0], expected, atol=1e-6)


def test_seed_numbers_match_the_notes_psnr_snr_gap() -> None:
    """A [0, 1] scaling puts mean power near 0.28 of peak^2 (the note's 5.6 dB gap);
    [-1, 1] would not."""
    rng = np.random.default_rng(0)
    x = rng.laplace(size=44100) * np.hanning(44100)  # speech-like heavy-tailed signal
    seeded = PROTOCOLS["seed"].apply(Audio(x, 44100)).samples[0].astype(np.float64)
    gap_01 = 10 * np.log10(1.0 / np.mean(seeded**2))
    scaled = 2 * seeded - 1
    gap_11 = 10 * np.log10(1.0 / np.mean(scaled**2))
    assert 3.0 < gap_01 < 8.0
    assert gap_11 > 12.0


def test_seed_short_and_constant_signals() -> None:
    short = Audio(np.linspace(-0.5, 0.5, 1000), 44100)
    prepared = PROTOCOLS["seed"].apply(short)
    assert prepared.frames == 1000  # not padded
    assert float(prepared.samples.min()) == 0.0 and float(prepared.samples.max()) == 1.0
    with pytest.raises(AudioError, match="constant signal"):
        PROTOCOLS["seed"].apply(Audio(np.full(5000, 0.25), 44100))
    with pytest.raises(AudioError, match="constant signal"):
        PROTOCOLS["seed"].apply(Audio(np.zeros(5000), 16000))


def test_load_errors_name_the_source(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_text("not a wav")
    (spec,) = parse_datasets_arg(f"folder={tmp_path}")
    (clip,) = load_clips(spec)
    with pytest.raises(AudioError, match=rf"^{tmp_path / 'a.wav'}"):
        clip.load()
    ghost = replace(clip, clip_id="gone.wav", path=tmp_path / "gone.wav")
    with pytest.raises(AudioError, match="no such file"):
        ghost.load()
    generated = Clip("demo", "synthetic-none", "audio", None, kind="demo", synthetic=True)
    with pytest.raises(AudioError, match=r"^generated:synthetic-none: no such demo clip"):
        generated.load()
