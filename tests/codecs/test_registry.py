"""Codec registry, bitrate declarations, Encoded accounting and drop-in plug-ins."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.audio import Audio
from bench.codecs import CODECS, get_codec, load_plugins, plugin_errors, resolve_codecs
from bench.codecs.base import Bitrates, Encoded
from bench.codecs.ffmpeg_common import lame_sample_rate
from bench.errors import BenchError, CodecError, UnknownNameError, UnsupportedBitrate
from bench.registry import Registry


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_codec("mp5")
    message = str(info.value)
    assert "unknown codec 'mp5'" in message
    for name in ("mp3", "aac", "opus", "flac"):
        assert name in message


def test_registry_refuses_silent_shadowing() -> None:
    reg: Registry[int] = Registry("thing")
    reg.register("a")(1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(2)
    reg.register("a", replace=True)(2)
    assert reg.get_one("a") == 2


def test_bitrates_ranges_and_sets() -> None:
    ranged = Bitrates(ladder=(6, 64), low=6, high=256)
    assert ranged.accepts(6) and ranged.accepts(100.5) and not ranged.accepts(5.9)
    assert not ranged.accepts(None) and not ranged.accepts(float("nan"))
    discrete = Bitrates(ladder=(4.75,), allowed=(4.75, 12.2))
    assert discrete.accepts(12.2) and not discrete.accepts(12)
    lossless = Bitrates(ladder=())
    assert lossless.lossless and lossless.accepts(None) and not lossless.accepts(64)
    with pytest.raises(UnsupportedBitrate, match=r"opus cannot encode at 2 kbps; supported: 6-256"):
        ranged.check("opus", 2)


def test_every_builtin_codec_declares_itself() -> None:
    names = {"mp3", "aac", "opus", "vorbis", "mp2", "amrnb", "g722", "flac", "speex", "codec2",
             "gsm", "twolame", "mp3-cli", "mulaw"}  # fmt: skip
    codecs = {name: get_codec(name) for name in names}
    for name, codec in codecs.items():
        info = codec.info()
        assert info["name"] == name and info["description"]
        assert all(codec.bitrates.accepts(k) for k in codec.ladder()), name
    all_names = {c.name for c in resolve_codecs("all")}
    assert {"mp3", "aac", "opus", "vorbis", "mp2", "amrnb", "g722", "flac"} <= all_names
    assert "mp3-cli" not in all_names  # cross-check variant, named explicitly only


def test_resolve_codecs_errors() -> None:
    with pytest.raises(BenchError, match="no codec named"):
        resolve_codecs(" , ")
    with pytest.raises(UnknownNameError):
        resolve_codecs("mp3,nope")
    assert [c.name for c in resolve_codecs("mp3,opus,mp3")] == ["mp3", "opus"]


def test_encoded_accounting_is_checked() -> None:
    enc = Encoded(b"x" * 1000, payload_bytes=900, duration_s=2.0, target_kbps=4)
    assert enc.actual_kbps == pytest.approx(3.6)
    assert enc.total_kbps == pytest.approx(4.0)
    with pytest.raises(CodecError):
        Encoded(b"x", payload_bytes=2, duration_s=1.0, target_kbps=None)
    with pytest.raises(CodecError):
        Encoded(b"x", payload_bytes=1, duration_s=0.0, target_kbps=None)


@pytest.mark.parametrize(
    ("kbps", "rate", "expected"),
    [(16, 44100, 8000), (32, 44100, 16000), (48, 44100, 22050), (64, 44100, 24000),
     (96, 44100, 32000), (128, 44100, 44100), (320, 48000, 48000), (32, 16000, 16000),
     (48, 16000, 16000), (128, 16000, 16000), (16, 16000, 8000)],
)  # fmt: skip
def test_mp3_follows_lame_sample_rate_choice(kbps: int, rate: int, expected: int) -> None:
    assert lame_sample_rate(kbps, rate) == expected


def test_mp3_refuses_an_illegal_bitrate_for_the_rate() -> None:
    with pytest.raises(UnsupportedBitrate, match="legal there"):
        lame_sample_rate(192, 16000)


def test_codec_refuses_too_many_channels(sine: Audio) -> None:
    stereo = sine.to_channels(2)
    with pytest.raises(BenchError, match="at most 1 channel"):
        get_codec("mp3").roundtrip(stereo, 64)
    _, decoded = get_codec("opus").roundtrip(stereo, 64)  # Opus codes stereo
    assert decoded.channels == 2


def test_example_plugin_in_codecs_folder_is_registered() -> None:
    codec = get_codec("mulaw")  # codecs/mulaw.py, discovered by path
    t = np.arange(8000) / 8000
    audio = Audio(0.5 * np.sin(2 * np.pi * 300 * t), 8000)
    encoded, decoded = codec.roundtrip(audio, 64)
    assert encoded.actual_kbps == pytest.approx(64.0)
    err = audio.samples - decoded.samples
    assert 10 * np.log10(np.sum(audio.samples**2) / np.sum(err**2)) > 30  # 8-bit log PCM


def test_dropped_in_plugin_file_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "halfrate.py").write_text(
        textwrap.dedent(
            """
            from bench.audio import Audio
            from bench.codecs import register_codec
            from bench.codecs.base import Bitrates, Codec, Encoded

            @register_codec
            class Int16(Codec):
                name = "test-int16"
                description = "16-bit PCM, a plug-in written by a test"
                bitrates = Bitrates(ladder=())

                def encode(self, audio, kbps):
                    data = audio.to_pcm16().tobytes()
                    return Encoded(data, len(data), audio.duration, kbps,
                                   params={"rate": audio.rate})

                def decode(self, data):
                    import numpy as np
                    return Audio.from_pcm(np.frombuffer(data, "<i2"), 8000)
            """
        )
    )
    (tmp_path / "broken.py").write_text("raise RuntimeError('plugin author made a mistake')\n")
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')\n")
    try:
        added = load_plugins([tmp_path])
        assert added == ["test-int16"]
        assert "test-int16" in {c.name for c in resolve_codecs("all")}
        errors = plugin_errors()
        assert any("broken.py" in path and "plugin author" in err for path, err in errors.items())
        assert not any("_private" in path for path in errors)
        assert load_plugins([tmp_path]) == []  # a folder is loaded once
    finally:
        CODECS.pop("test-int16", None)
