"""A real run of the suite and the MUSHRA test built from it, shared by the generation tests.

The run is the suite itself on a few real ESC-50 clips with two cheap codecs and one metric
(about ten seconds); ``python -m bench mushra`` is then run on it in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main as cli_main

CODECS, BITRATES = "opus,mp3", "16,32"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory, esc50_dir: Path) -> Path:
    """A finished run folder: 8 ESC-50 clips x opus, mp3 at 16 and 32 kbps, SNR."""
    root = tmp_path_factory.mktemp("mushra-run")
    out = root / "run"
    status = cli_main(
        ["run", "--codecs", CODECS, "--bitrates", BITRATES, "--metrics", "snr",
         "--datasets", f"esc50={esc50_dir}", "--limit", "8", "--jobs", "2",
         "--out", str(out), "--cache", str(root / "cache.sqlite"), "--no-report"]
    )  # fmt: skip
    assert status == 0
    return out


@pytest.fixture(scope="session")
def built_test(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """``mushra`` on :func:`small_run` with three conditions (5 items); (out dir, key)."""
    out = tmp_path_factory.mktemp("mushra-test") / "mushra"
    status = cli_main(
        ["mushra", str(small_run), "--out", str(out), "--conditions", "opus:16,mp3:16,opus:32",
         "--seed", "7"]
    )  # fmt: skip
    assert status == 0
    return out, json.loads((out / "key.json").read_text(encoding="utf-8"))
