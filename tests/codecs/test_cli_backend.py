"""The ffmpeg-binary backend: list arguments, cross-check with PyAV, graceful absence."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from bench.audio import Audio
from bench.codecs import cli_codecs, get_codec, resolve_codecs
from bench.errors import BenchError, CodecUnavailable
from tests.conftest import require_binary


@pytest.fixture(autouse=True)
def _ffmpeg() -> None:
    require_binary("ffmpeg")


def snr(ref: Audio, deg: Audio) -> float:
    err = np.sum((ref.samples.astype(np.float64) - deg.samples) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(np.sum(ref.samples**2) / err))


@pytest.mark.parametrize("kbps", [32, 64, 128])
def test_cli_mp3_matches_in_process_mp3(speech_clip: Audio, kbps: int) -> None:
    """Same LAME version, two backends: the CLI path writes no LAME tag (decoder delay 1105
    stays in the stream) and the adapter removes it; both decode to the same signal."""
    enc_av, dec_av = get_codec("mp3").roundtrip(speech_clip, kbps)
    enc_cli, dec_cli = get_codec("mp3-cli").roundtrip(speech_clip, kbps)
    assert enc_cli.params["delay"] == 1105 and enc_av.params["delay"] == 0
    assert enc_cli.params["native_rate"] == enc_av.params["native_rate"]
    # The CLI path also codes the 1105 padding samples: a frame or two more, no more.
    assert enc_av.payload_bytes <= enc_cli.payload_bytes <= enc_av.payload_bytes * 1.04
    # Each is a faithful MP3 of the input, and they agree with each other far better than
    # either agrees with the input (with the same LAME version they are identical).
    assert abs(snr(speech_clip, dec_av) - snr(speech_clip, dec_cli)) < 1.0
    assert snr(dec_av, dec_cli) > 40


def test_ffmpeg_is_called_with_an_argument_list(
    monkeypatch: pytest.MonkeyPatch, sine: Audio
) -> None:
    calls: list[tuple[object, dict]] = []
    real_run = subprocess.run

    def spy(args, **kwargs):
        calls.append((args, kwargs))
        return real_run(args, **kwargs)

    monkeypatch.setattr(cli_codecs.subprocess, "run", spy)
    get_codec("gsm").roundtrip(sine, 13)
    assert calls
    for args, kwargs in calls:
        assert isinstance(args, list) and all(isinstance(a, str) for a in args)
        assert not kwargs.get("shell")
        assert "timeout" in kwargs


def test_missing_binary_makes_codecs_unavailable(
    monkeypatch: pytest.MonkeyPatch, sine: Audio
) -> None:
    monkeypatch.setenv(cli_codecs.FFMPEG_ENV, "/nonexistent/ffmpeg")
    codec = get_codec("codec2")
    ok, reason = codec.availability()
    assert not ok and "no ffmpeg binary" in reason
    assert "codec2" not in {c.name for c in resolve_codecs("all")}
    with pytest.raises(BenchError, match="not available here"):
        resolve_codecs("codec2")
    with pytest.raises(CodecUnavailable):
        codec.encode(sine.resample(8000), 3.2)
    assert codec.info()["available"] is False


def test_binary_without_the_encoder_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cli_codecs, "_capabilities", lambda binary: ("ffmpeg 0", frozenset(), frozenset())
    )
    ok, reason = get_codec("gsm").availability()
    assert not ok and "no libgsm encoder" in reason
