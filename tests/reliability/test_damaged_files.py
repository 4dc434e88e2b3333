"""Damaged audio files: refused with a clear error naming the file, never loaded as a shorter
clip, never an allocation sized from a header's claim."""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.audio import load_audio
from bench.errors import AudioError


@pytest.fixture(scope="module")
def flac(librispeech_dir: Path) -> bytes:
    """A real LibriSpeech FLAC (10.4 s, 16 kHz)."""
    return next(iter(sorted(librispeech_dir.glob("*/*/*/1089-134686-0000.flac")))).read_bytes()


def with_total_samples(data: bytes, total: int) -> bytes:
    """``data`` with STREAMINFO's 36-bit total-samples field set to ``total``."""
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO is the first block
    out = bytearray(data)
    info = 8  # after "fLaC" and the 4-byte block header; the field starts at bit 108
    out[info + 13] = (out[info + 13] & 0xF0) | ((total >> 32) & 0x0F)
    out[info + 14 : info + 18] = (total & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(out)


def frame_starts(data: bytes) -> list[int]:
    """Offsets of FLAC frame sync codes (0xFFF8, fixed block size) after the metadata."""
    starts, at = [], data.find(b"\xff\xf8", 42)
    while at != -1:
        starts.append(at)
        at = data.find(b"\xff\xf8", at + 2)
    return starts


def test_a_flac_cut_at_a_frame_boundary_is_refused(flac: bytes, tmp_path: Path) -> None:
    # Cut exactly between frames, every frame that a decoder reads cleanly; before the fix
    # FFmpeg decoded these and the clip was scored as a shorter one.
    path = tmp_path / "cut.flac"
    starts = frame_starts(flac)
    assert len(starts) > 20
    for cut in starts[1::3]:
        path.write_bytes(flac[:cut])
        with pytest.raises(AudioError, match=r"truncated|not a readable audio file") as info:
            load_audio(path)
        assert str(info.value).startswith(str(path))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(fraction=st.floats(0.0, 0.999))
def test_a_flac_cut_anywhere_never_loads(flac: bytes, tmp_path: Path, fraction: float) -> None:
    path = tmp_path / "cut.flac"
    path.write_bytes(flac[: int(len(flac) * fraction)])
    with pytest.raises(AudioError):
        load_audio(path)


@pytest.mark.parametrize("total", [2**36 - 1, 10**9, 166_961])
def test_a_flac_header_claiming_more_frames_than_it_holds_is_refused(
    flac: bytes, tmp_path: Path, total: int
) -> None:
    path = tmp_path / "lying.flac"
    path.write_bytes(with_total_samples(flac, total))
    tracemalloc.start()
    try:
        with pytest.raises(AudioError, match=f"declares {total} frames, 166960 could be decoded"):
            load_audio(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Memory follows the file (0.2 MB, 167k samples), never the claim (2**36 frames = 256 GiB).
    assert peak < 64 * 2**20, peak


def test_a_flac_of_unknown_length_loads(flac: bytes, tmp_path: Path) -> None:
    # total samples 0 means "unknown" (a FLAC written to a pipe): valid, read to the end.
    path = tmp_path / "stream.flac"
    path.write_bytes(with_total_samples(flac, 0))
    whole = tmp_path / "whole.flac"
    whole.write_bytes(flac)
    np.testing.assert_array_equal(load_audio(path).samples, load_audio(whole).samples)


def wav(frames: int = 16000, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(frames) / rate
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * 300 * t), rate, "PCM_16", format="WAV")
    return buffer.getvalue()


def test_a_wav_cut_in_its_data_is_refused(tmp_path: Path) -> None:
    data = wav()
    path = tmp_path / "cut.wav"
    for cut in (100, 20_000, len(data) - 2):
        path.write_bytes(data[:cut])
        with pytest.raises(AudioError, match=f"WAV data chunk declares 32000 bytes.*{cut - 44}"):
            load_audio(path)


@pytest.mark.parametrize("placeholder", [0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000])
def test_a_wav_with_a_placeholder_length_loads(tmp_path: Path, placeholder: int) -> None:
    # Writers that cannot seek back (pipes) leave a placeholder data length: not truncation.
    data = bytearray(wav())
    at = data.find(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", placeholder)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    assert load_audio(path).frames == 16000


def test_a_complete_wav_with_extra_chunks_loads(tmp_path: Path) -> None:
    data = wav()
    at = data.find(b"data")
    extra = b"LIST" + struct.pack("<I", 5) + b"hello" + b"\x00"  # odd length: padded
    path = tmp_path / "chunks.wav"
    path.write_bytes(data[:at] + extra + data[at:])
    assert load_audio(path).frames == 16000


@pytest.mark.parametrize(
    ("options", "what"),
    [
        (["-q:a", "5", "-write_xing", "0"], "VBR without a Xing header"),
        (["-b:a", "32k", "-write_xing", "0"], "CBR without a Xing header"),
        (["-q:a", "5"], "VBR with a LAME tag"),
    ],
)
def test_an_mp3_loads_to_its_end(tmp_path: Path, options: list[str], what: str) -> None:
    # libsndfile only estimates an MP3's length and stopped reading there: a 5-s VBR file
    # without a Xing header loaded as 0.59 s. MP3s are decoded by FFmpeg, to the end.
    import subprocess

    from tests.conftest import require_binary

    source = tmp_path / "source.wav"
    source.write_bytes(wav(frames=80_000))
    mp3 = tmp_path / "clip.mp3"
    subprocess.run([require_binary("ffmpeg"), "-v", "error", "-i", str(source), "-c:a",
                    "libmp3lame", *options, str(mp3)], check=True)  # fmt: skip
    audio = load_audio(mp3)
    # Without a LAME tag the decoder keeps the encoder's delay and padding (up to 2 frames).
    assert 80_000 <= audio.frames <= 80_000 + 2 * 1152 + 1105, (what, audio.frames)
