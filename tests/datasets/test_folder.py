"""``folder=PATH`` with odd and broken files: every file is listed; failures are per clip."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.audio import Audio
from bench.datasets import load_clips, parse_datasets_arg
from bench.errors import AudioError, BenchError


@pytest.fixture()
def odd_folder(tmp_path: Path, esc50_dir: Path) -> Path:
    """A folder of real and deliberately awkward files."""
    root = tmp_path / "mine"
    (root / "real").mkdir(parents=True)
    (root / "odd" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    shutil.copy(esc50_dir / "audio" / "1-100032-A-0.wav", root / "real" / "dog.wav")
    t = np.arange(int(0.5 * 48000)) / 48000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(root / "odd" / "stereo.wav", np.stack([tone, -tone], axis=1), 48000, "PCM_16")
    sf.write(root / "odd" / "rate22k.flac", tone[:11025], 22050, "PCM_16")
    sf.write(root / "odd" / "deeper" / "short.wav", tone[:4800], 48000, "PCM_16")  # 0.1 s
    sf.write(root / "odd" / "silent.wav", np.zeros(4800), 48000, "PCM_16")
    wav = (root / "real" / "dog.wav").read_bytes()
    (root / "odd" / "corrupt.wav").write_bytes(wav[:30])  # header cut mid-way
    (root / "odd" / "text.wav").write_text("this is not audio\n")
    (root / "odd" / "empty.wav").write_bytes(b"")
    (root / "odd" / "notes.txt").write_text("not listed: not an audio extension\n")
    (root / ".hidden" / "skip.wav").write_bytes(wav)
    (root / ".skip.wav").write_bytes(wav)
    return root


EXPECTED_IDS = [
    "odd/corrupt.wav",
    "odd/deeper/short.wav",
    "odd/empty.wav",
    "odd/rate22k.flac",
    "odd/silent.wav",
    "odd/stereo.wav",
    "odd/text.wav",
    "real/dog.wav",
]


def test_every_audio_file_is_listed_with_relative_ids(odd_folder: Path) -> None:
    (spec,) = parse_datasets_arg(f"folder={odd_folder}")
    clips = load_clips(spec)
    assert sorted(c.clip_id for c in clips) == EXPECTED_IDS
    assert all(c.domain == "audio" and c.dataset == "folder" for c in clips)
    by_id = {c.clip_id: c for c in clips}
    assert by_id["odd/deeper/short.wav"].meta["group"] == "odd/deeper"
    assert by_id["real/dog.wav"].meta["format"] == "wav"


def test_each_clip_succeeds_or_fails_on_its_own(odd_folder: Path) -> None:
    clips = {c.clip_id: c for c in load_clips(parse_datasets_arg(f"folder={odd_folder}")[0])}
    loaded: dict[str, Audio] = {}
    failed: dict[str, str] = {}
    for clip_id, clip in clips.items():
        try:
            loaded[clip_id] = clip.load()
        except AudioError as exc:
            failed[clip_id] = str(exc)
    assert sorted(failed) == ["odd/corrupt.wav", "odd/empty.wav", "odd/text.wav"]
    for clip_id, message in failed.items():
        assert message.startswith(str(clips[clip_id].path)), message
    assert "empty file" in failed["odd/empty.wav"]
    assert loaded["odd/stereo.wav"].channels == 2 and loaded["odd/stereo.wav"].rate == 48000
    assert loaded["odd/rate22k.flac"].rate == 22050
    assert loaded["odd/deeper/short.wav"].frames == 4800
    assert loaded["odd/silent.wav"].is_silent()
    assert loaded["real/dog.wav"].rate == 44100


def test_seed_protocol_per_clip_outcomes(odd_folder: Path) -> None:
    """Under the seed protocol a silent file cannot be min-max normalised: its own error."""
    clips = load_clips(parse_datasets_arg(f"folder={odd_folder}")[0], protocol="seed")
    by_id = {c.clip_id: c for c in clips}
    with pytest.raises(AudioError, match=r"silent\.wav: constant signal"):
        by_id["odd/silent.wav"].load()
    stereo = by_id["odd/stereo.wav"].load()
    assert (stereo.channels, stereo.rate) == (1, 44100)


def test_speech_domain_option_single_file_and_limit(odd_folder: Path) -> None:
    (spec,) = parse_datasets_arg(f"folder:speech={odd_folder}")
    assert {c.domain for c in load_clips(spec)} == {"speech"}
    (single,) = parse_datasets_arg(f"folder={odd_folder / 'real' / 'dog.wav'}")
    (clip,) = load_clips(single)
    assert clip.clip_id == "dog.wav"
    two = load_clips(parse_datasets_arg(f"folder={odd_folder}")[0], limit=3)
    assert [c.meta["group"] for c in two] == ["odd", "odd/deeper", "real"]


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="folder needs a path"):
        parse_datasets_arg("folder")
    with pytest.raises(BenchError, match="does not exist"):
        parse_datasets_arg(f"folder={tmp_path / 'none'}")
    with pytest.raises(BenchError, match="unknown domain"):
        parse_datasets_arg(f"folder:music={tmp_path}")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(BenchError, match="no clips"):
        load_clips(parse_datasets_arg(f"folder={tmp_path}")[0])


def test_listing_opens_no_file(odd_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing must be fast: it may walk folders but must not read audio files."""
    import builtins

    import soundfile

    opened: list[str] = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(os.fspath(file) if isinstance(file, (str, os.PathLike)) else repr(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(soundfile, "SoundFile", None)
    clips = load_clips(parse_datasets_arg(f"folder={odd_folder}")[0])
    assert len(clips) == len(EXPECTED_IDS)
    assert opened == []
