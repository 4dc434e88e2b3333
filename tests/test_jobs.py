"""The worker's side of the listening examples: what a point keeps, and where it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.audio import Audio, save_audio
from bench.codecs import get_codec
from bench.jobs import Point, run_point


@pytest.mark.parametrize("codec, kbps", [("opus", 12.0), ("mp3", 32.0), ("namc", 5.6)])
def test_a_point_keeps_what_the_runner_would_encode_again(
    sine: Audio, tmp_path: Path, codec: str, kbps: float
) -> None:
    kept = tmp_path / "kept.wav"
    fields, _ = run_point(sine, None, Point("k", codec, kbps, (), example=str(kept)))
    assert fields["status"] == "ok" and fields["examples_cpu_s"] >= 0
    _, decoded = get_codec(codec).roundtrip(sine, kbps)  # what render_examples does
    again = save_audio(tmp_path / "again.wav", decoded, "PCM_16")
    assert kept.read_bytes() == again.read_bytes()


def test_no_example_asked_or_no_folder_writes_nothing(sine: Audio, tmp_path: Path) -> None:
    fields, _ = run_point(sine, None, Point("k", "opus", 12.0, ()))
    assert fields["status"] == "ok" and "examples_cpu_s" not in fields
    elsewhere = tmp_path / "not-here" / "kept.wav"  # a Dask worker without the shared folder
    fields, _ = run_point(sine, None, Point("k", "opus", 12.0, (), example=str(elsewhere)))
    assert fields["status"] == "ok" and not elsewhere.parent.exists()


def test_a_failed_point_keeps_nothing(sine: Audio, tmp_path: Path) -> None:
    kept = tmp_path / "kept.wav"
    fields, _ = run_point(sine, None, Point("k", "opus", 3.0, (), example=str(kept)))
    assert fields["status"] == "error" and not kept.exists()
