"""The Audio value: validation where it is built, conversions, and reading every format."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.audio import Audio, load_audio, save_audio
from bench.errors import AudioError


def test_mono_1d_becomes_channels_by_frames() -> None:
    audio = Audio(np.zeros(100, np.float64), 8000)
    assert audio.samples.shape == (1, 100)
    assert audio.samples.dtype == np.float32
    assert audio.duration == pytest.approx(100 / 8000)


def test_samples_are_copied_and_read_only() -> None:
    raw = np.zeros((1, 10), np.float32)
    audio = Audio(raw, 8000)
    raw[0, 0] = 1.0
    assert audio.samples[0, 0] == 0.0
    with pytest.raises(ValueError):
        audio.samples[0, 0] = 1.0


@pytest.mark.parametrize(
    ("samples", "rate", "message"),
    [
        (np.zeros(10, np.int16), 8000, "floating point"),
        (np.zeros((1, 2, 3), np.float32), 8000, "1-D or 2-D"),
        (np.zeros((1000, 2), np.float32), 8000, "transpose"),
        (np.zeros((1, 0), np.float32), 8000, "empty"),
        (np.array([0.0, np.nan], np.float32), 8000, "non-finite"),
        (np.array([0.0, np.inf]), 8000, "non-finite"),
        (np.array([1e300]), 8000, "non-finite"),  # overflows float32
        (np.zeros(10, np.float32), 0, "positive"),
        (np.zeros(10, np.float32), -8000, "positive"),
        (np.zeros(10, np.float32), 8000.5, "integer"),
        (np.zeros(10, np.float32), "8000", "integer"),
        (np.zeros(10, np.float32), True, "integer"),
    ],
)
def test_invalid_audio_is_refused(samples: np.ndarray, rate: object, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        Audio(samples, rate)  # type: ignore[arg-type]


def test_from_pcm_scales_each_integer_width() -> None:
    assert Audio.from_pcm(np.array([-32768, 16384], np.int16), 8000).samples[0].tolist() == [
        -1.0,
        0.5,
    ]
    assert Audio.from_pcm(np.array([0, 128, 255], np.uint8), 8000).samples[0][1] == 0.0
    assert Audio.from_pcm(np.array([2**30], np.int32), 8000).samples[0][0] == 0.5


def test_resample_length_and_content(sine: Audio) -> None:
    down = sine.resample(16000)
    assert down.rate == 16000
    assert down.frames == round(sine.frames * 16000 / 44100)
    back = down.resample(44100).with_frames(sine.frames)
    # A 440 Hz tone survives 44.1 -> 16 -> 44.1 kHz (soxr HQ) almost exactly.
    err = sine.samples[0, 1000:-1000] - back.samples[0, 1000:-1000]
    assert 10 * np.log10(np.sum(sine.samples[0, 1000:-1000] ** 2) / np.sum(err**2)) > 60
    assert sine.resample(44100) is sine


def test_channel_conversion_rule() -> None:
    stereo = Audio(np.array([[1.0, 0.0], [0.0, 1.0]]), 8000)
    assert stereo.mono().samples.tolist() == [[0.5, 0.5]]
    assert stereo.mono().to_channels(3).channels == 3
    with pytest.raises(AudioError, match="cannot convert"):
        Audio(np.zeros((6, 10)), 8000).to_channels(2)


def test_with_frames_and_segment() -> None:
    audio = Audio(np.arange(5, dtype=np.float32) / 10, 8000)
    assert audio.with_frames(7).samples[0].tolist()[-2:] == [0.0, 0.0]
    assert audio.with_frames(3).frames == 3
    assert audio.segment(1, 3).samples[0].tolist() == pytest.approx([0.1, 0.2])
    with pytest.raises(AudioError):
        audio.segment(4, 2)


def test_content_hash_ignores_origin_but_not_content() -> None:
    a = Audio(np.ones(10), 8000)
    assert a.content_hash() == Audio(np.ones(10, np.float32), 8000).content_hash()
    assert a.content_hash() != Audio(np.ones(10), 16000).content_hash()
    assert a.content_hash() != Audio(np.ones(11), 8000).content_hash()


@pytest.mark.parametrize(
    ("subtype", "fmt", "exact"),
    [
        ("PCM_U8", "WAV", 2**-7),
        ("PCM_16", "WAV", 2**-15),
        ("PCM_24", "WAV", 2**-23),
        ("PCM_32", "WAV", 2**-24),
        ("FLOAT", "WAV", 0),
        ("DOUBLE", "WAV", 0),
        ("PCM_16", "FLAC", 2**-15),
        ("PCM_24", "FLAC", 2**-23),
        ("VORBIS", "OGG", None),
        ("MPEG_LAYER_III", "MP3", None),
    ],
)
def test_load_every_format(tmp_path: Path, subtype: str, fmt: str, exact: float | None) -> None:
    rate = 16000
    t = np.arange(rate) / rate
    signal = (0.4 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, signal, rate, subtype=subtype, format=fmt)
    audio = load_audio(path)
    assert audio.rate == rate and audio.channels == 1
    if exact is not None:
        assert audio.frames == rate
        assert np.max(np.abs(audio.samples[0] - signal)) <= exact + 1e-7
    else:  # lossy: the tone is there, the length is close
        assert abs(audio.frames - rate) < 3000
        assert 0.2 < audio.peak < 0.6


def test_load_stereo_and_multichannel(tmp_path: Path) -> None:
    data = np.random.default_rng(0).uniform(-0.5, 0.5, (1000, 6)).astype(np.float32)
    sf.write(tmp_path / "six.wav", data, 48000, subtype="FLOAT")
    audio = load_audio(tmp_path / "six.wav")
    assert audio.channels == 6 and audio.frames == 1000
    assert np.array_equal(audio.samples, data.T)


def test_load_through_pyav_fallback(tmp_path: Path) -> None:
    """AAC in MP4 is not a libsndfile format: PyAV decodes it."""
    import av

    path = tmp_path / "tone.m4a"
    rate = 44100
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        t = np.arange(rate) / rate
        frame = av.AudioFrame.from_ndarray(
            (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :],
            format="fltp",
            layout="mono",
        )
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    audio = load_audio(path)
    assert audio.rate == rate and 0.2 < audio.peak < 0.45


def _wav_header_only(path: Path) -> None:
    path.write_bytes(b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt ")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not audio\n" * 20), "not a readable audio file"),
        (_wav_header_only, "not a readable audio file"),
        (
            lambda p: sf.write(p, np.array([0.1, np.nan, 0.2], np.float32), 8000, subtype="FLOAT"),
            "non-finite",
        ),
        (
            lambda p: sf.write(p, np.array([0.1, np.inf], np.float32), 8000, subtype="FLOAT"),
            "non-finite",
        ),
    ],
)
def test_bad_files_raise_audio_error_naming_the_file(tmp_path: Path, make, message: str) -> None:
    path = tmp_path / "bad clip.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)


def test_save_audio_round_trip_and_atomicity(tmp_path: Path) -> None:
    audio = Audio(np.array([[0.5, -1.5, 0.25]], np.float32), 8000)
    out = save_audio(tmp_path / "a.wav", audio)
    assert np.array_equal(load_audio(out).samples, audio.samples)  # float WAV keeps overs
    clipped = load_audio(save_audio(tmp_path / "b.wav", audio, subtype="PCM_16"))
    assert clipped.samples[0, 1] == -1.0  # clipped, not wrapped around
    with pytest.raises(AudioError):
        save_audio(tmp_path / "c.mp3", audio)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]


def test_save_audio_failure_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(soundfile, "write", broken)
    with pytest.raises(OSError):
        save_audio(tmp_path / "x.wav", Audio(np.zeros(10), 8000))
    assert list(tmp_path.iterdir()) == []


def test_decoded_in_memory_bytes() -> None:
    from bench.audio import decode_audio_bytes

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(100, np.float32), 8000, format="WAV", subtype="PCM_16")
    assert decode_audio_bytes(buffer.getvalue()).frames == 100
