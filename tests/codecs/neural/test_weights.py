"""Where the peers' weights are looked for, what unavailable says, and ``python -m bench
weights``; loading goes through the codec from each place (offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.codecs import get_codec
from bench.codecs.neural.weights import WeightSource, locate
from tests.codecs.neural.conftest import hf_cache_layout, noise, save_hf, tiny_encodec
from tests.conftest import ROOT

SOURCE = WeightSource(codec="encodec24", repo="facebook/encodec_24khz")


@pytest.fixture
def empty(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No weights anywhere: every look-up place is an empty folder under ``tmp_path``."""
    monkeypatch.delenv("BENCH_WEIGHTS_ENCODEC24", raising=False)
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path


def test_missing_weights_name_every_place_and_how_to_get_them(empty: Path):
    located = locate(SOURCE)
    assert not located.found
    reason = located.reason()
    assert str(empty / "own" / "encodec_24khz") in reason
    assert str(empty / "hub" / "models--facebook--encodec_24khz") in reason
    assert "hf download facebook/encodec_24khz" in reason and "BENCH_WEIGHTS_ENCODEC24" in reason
    ok, why = get_codec("encodec24").availability()
    assert not ok and why == reason


def test_found_in_the_suites_folder_then_loaded(empty: Path):
    folder = save_hf(tiny_encodec(), empty / "own" / "encodec_24khz")
    assert locate(SOURCE).path == folder
    codec = get_codec("encodec24")
    assert codec.availability() == (True, "")
    encoded, decoded = codec.roundtrip(noise(24000, 0.5), 1.5)
    assert decoded.frames == 12000 and encoded.payload_bytes > 0


def test_found_in_the_hugging_face_cache_layout(empty: Path, monkeypatch: pytest.MonkeyPatch):
    snapshot = hf_cache_layout(tiny_encodec(), empty / "hub", "facebook/encodec_24khz")
    assert (snapshot / "config.json").is_symlink()
    assert locate(SOURCE).path == snapshot
    # HF_HOME/hub is the default cache when HF_HUB_CACHE is not set.
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(empty))
    assert locate(SOURCE).path == snapshot
    _, decoded = get_codec("encodec24").roundtrip(noise(16000, 0.3), 3.0)
    assert decoded.rate == 16000


def test_an_incomplete_checkpoint_is_not_found(empty: Path):
    folder = save_hf(tiny_encodec(), empty / "own" / "encodec_24khz")
    (folder / "model.safetensors").unlink()
    assert not locate(SOURCE).found


def test_override_folder_or_file_and_no_fall_through(empty: Path, monkeypatch):
    folder = save_hf(tiny_encodec(), empty / "mine")
    save_hf(tiny_encodec(), empty / "own" / "encodec_24khz")
    monkeypatch.setenv("BENCH_WEIGHTS_ENCODEC24", str(folder))
    assert locate(SOURCE).path == folder
    monkeypatch.setenv("BENCH_WEIGHTS_ENCODEC24", str(folder / "model.safetensors"))
    assert locate(SOURCE).path == folder
    # A wrong override is an error, not a silent switch to another copy.
    monkeypatch.setenv("BENCH_WEIGHTS_ENCODEC24", str(empty / "typo"))
    located = locate(SOURCE)
    assert not located.found and located.looked == (f"$BENCH_WEIGHTS_ENCODEC24={empty / 'typo'}",)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_weights_command_and_list_show_where_they_looked(empty: Path):
    folder = save_hf(tiny_encodec(), empty / "own" / "encodec_24khz")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = _run(["-m", "bench", "weights", "--json"], env)
    assert done.returncode == 0, done.stderr
    rows = {row["codec"]: row for row in json.loads(done.stdout)}
    assert rows["encodec24"]["found"] == str(folder) and rows["encodec24"]["available"]
    assert rows["encodec48"]["found"] is None
    assert str(empty / "own" / "encodec_48khz") in rows["encodec48"]["looked_in"]
    assert rows["encodec48"]["override"] == "BENCH_WEIGHTS_ENCODEC48"
    assert {"namc", "namc-packed", "mimi"} <= set(rows)
    assert rows["namc"]["available"] and rows["namc"]["found"].endswith("weights")
    text = _run(["-m", "bench", "weights"], env).stdout
    assert "encodec48" in text and "NOT FOUND" in text and "hf download" in text
    listing = _run(["run_bench.py", "--list"], env)
    line = next(x for x in listing.stdout.splitlines() if x.strip().startswith("encodec48 "))
    assert "UNAVAILABLE" in line and str(empty / "own" / "encodec_48khz") in line
    assert "hf download facebook/encodec_48khz" in line


def test_without_the_extra_the_reason_names_it_and_the_weight_paths(empty: Path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    ok, reason = get_codec("mimi").availability()
    assert not ok and "missing Python package(s) torch" in reason and "'.[neural]'" in reason
    assert str(empty / "own" / "mimi") in reason
    from bench.codecs.neural.base import require
    from bench.errors import CodecUnavailable

    with pytest.raises(CodecUnavailable, match=r"\[neural\]"):
        require(["torch"], "mimi")
