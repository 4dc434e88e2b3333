"""Shared fixtures: the real corpora in ``../shared/data`` and small generated signals.

The data root is ``$BENCH_TEST_DATA`` (default ``../shared/data`` beside the checkout). A test
that needs it fails, never skips, when it is missing: a green run must mean the real clips were
used.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.audio import Audio, load_audio

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = Path(os.environ.get("BENCH_TEST_DATA", ROOT.parent / "shared" / "data")).resolve()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(
            f"test data missing: {path} (set BENCH_TEST_DATA to the folder holding "
            "esc50-mini/ and librispeech-mini/)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Root of the real test corpora."""
    return _need(TEST_DATA)


@pytest.fixture(scope="session")
def esc50_dir(test_data: Path) -> Path:
    """The ESC-50 subset in its upstream layout (``audio/``, ``meta/esc50.csv``)."""
    return _need(test_data / "esc50-mini")


@pytest.fixture(scope="session")
def librispeech_dir(test_data: Path) -> Path:
    """The LibriSpeech subset root (``LibriSpeech/<subset>/<speaker>/<chapter>/``)."""
    return _need(test_data / "librispeech-mini" / "LibriSpeech")


@pytest.fixture(scope="session")
def esc50_clip(esc50_dir: Path) -> Audio:
    """A real 5-s, 44.1 kHz ESC-50 clip with broadband content (dog bark)."""
    return load_audio(esc50_dir / "audio" / "1-100032-A-0.wav")


@pytest.fixture(scope="session")
def speech_clip(librispeech_dir: Path) -> Audio:
    """A real 16 kHz LibriSpeech utterance."""
    first = sorted(librispeech_dir.glob("test-clean/*/*/*.flac"))[0]
    return load_audio(first)


@pytest.fixture()
def sine() -> Audio:
    """One second of a 440 Hz tone at 44.1 kHz, -6 dBFS."""
    t = np.arange(44100) / 44100
    return Audio(0.5 * np.sin(2 * np.pi * 440 * t), 44100)


def require_binary(name: str) -> str:
    """Path of a system binary; skipped locally when missing, a failure in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} binary not found (install the Debian package)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


#: results.csv columns that legitimately differ between two runs of the same work (timings,
#: and whether a row came from the store).
VOLATILE_COLUMNS = ["encode_s", "decode_s", "metrics_s", "cached"]
