"""Fixtures for the metric tests: a few short real clips and a noise helper.

ViSQOL dominates the runtime, so the clips are short and loaded once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.audio import Audio, load_audio


def _speech_file(librispeech_dir: Path, name: str) -> Path:
    found = sorted(librispeech_dir.glob(f"*/*/*/{name}"))
    if not found:
        pytest.fail(f"LibriSpeech utterance {name} missing under {librispeech_dir}", pytrace=False)
    return found[0]


@pytest.fixture(scope="session")
def short_speech(librispeech_dir: Path) -> Audio:
    """A real 2.1-s, 16 kHz LibriSpeech utterance (test-clean 1089-134691-0000)."""
    return load_audio(_speech_file(librispeech_dir, "1089-134691-0000.flac"))


@pytest.fixture(scope="session")
def speech_2s5(librispeech_dir: Path) -> Audio:
    """A real 2.5-s, 16 kHz LibriSpeech utterance (3005-163389-0004)."""
    return load_audio(_speech_file(librispeech_dir, "3005-163389-0004.flac"))


@pytest.fixture(scope="session")
def horn_clip(esc50_dir: Path) -> Audio:
    """First 3 s of a real ESC-50 car-horn clip (44.1 kHz): dense, tonal and broadband."""
    clip = load_audio(esc50_dir / "audio" / "2-100648-A-43.wav")
    return clip.segment(0, 3 * clip.rate)


@pytest.fixture(scope="session")
def rain_clip(esc50_dir: Path) -> Audio:
    """A real ESC-50 rain clip, in which PESQ's voice-activity detection finds no utterance."""
    return load_audio(esc50_dir / "audio" / "4-163264-A-10.wav")


def _with_noise(audio: Audio, snr_db: float, seed: int = 0) -> Audio:
    """``audio`` plus white Gaussian noise scaled to exactly ``snr_db`` (energy over all
    samples, computed in float64 before the float32 rounding of :class:`Audio`)."""
    clean = audio.samples.astype(np.float64)
    noise = np.random.default_rng(seed).standard_normal(clean.shape)
    noise *= np.sqrt(np.sum(clean**2) / np.sum(noise**2) / 10.0 ** (snr_db / 10.0))
    return Audio(clean + noise, audio.rate)


@pytest.fixture(scope="session")
def with_noise() -> Callable[..., Audio]:
    """``with_noise(audio, snr_db, seed=0)``: the clip plus white noise at a known SNR."""
    return _with_noise
