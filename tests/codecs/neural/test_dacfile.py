"""DAC's own compress / .dac file path (bench/codecs/neural/dacfile.py) on tiny random DACs.

The geometry that decides the file (delay, window, step, frames per window) depends on kernel
sizes, strides and dilations only, so the tiny models give the real checkpoints' numbers.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from bench.audio import Audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from bench.codecs.neural import dacfile  # noqa: E402
from bench.errors import BitstreamError, CodecError  # noqa: E402
from tests.codecs.neural.conftest import noise  # noqa: E402
from tests.codecs.neural.test_dac import GEOMETRY, save_tiny_dac  # noqa: E402


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dacfile")
    return {n: save_tiny_dac(root / n, *GEOMETRY[n]) for n in ("dac16", "dac44")}


@pytest.fixture
def dac_env(checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for name, folder in checkpoints.items():
        monkeypatch.setenv(f"BENCH_WEIGHTS_{name.upper()}", str(folder))
    return checkpoints


def resave(data: bytes, **changes: object) -> bytes:
    """The same .dac file with metadata fields (or ``codes``) replaced, saved as DAC does."""
    artifacts = np.load(io.BytesIO(data), allow_pickle=True)[()]
    if "codes" in changes:
        artifacts["codes"] = changes.pop("codes")
    artifacts["metadata"].update(changes)
    buffer = io.BytesIO()
    np.save(buffer, artifacts)
    return buffer.getvalue()


def test_loudness_is_bs1770() -> None:
    rate = 48000
    t = np.arange(5 * rate) / rate
    sine = np.sin(2 * np.pi * 997 * t)[None]
    # BS.1770's reference: -3.01 LUFS. pyloudnorm's RBJ-cookbook K-weighting (which audiotools
    # uses, so DAC does) is a few hundredths of a dB off the ITU's coefficients at 997 Hz.
    assert dacfile.loudness(sine, rate) == pytest.approx(-3.01, abs=0.06)
    assert dacfile.loudness(0.1 * sine, rate) == pytest.approx(-23.01, abs=0.06)
    assert dacfile.loudness(np.zeros((1, rate)), rate) == dacfile.MIN_LOUDNESS
    stereo = np.repeat(0.1 * sine, 2, axis=0)  # two channels add their power
    assert dacfile.loudness(stereo, rate) == pytest.approx(-23.01 + 3.01, abs=0.06)


def test_file_is_what_dacfile_save_writes(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac44-file")
    audio = noise(44100, 2.5)
    encoded = codec.encode(audio, 7.752)
    artifacts = np.load(io.BytesIO(encoded.data), allow_pickle=True)[()]  # as DACFile.load
    codes, meta = artifacts["codes"], artifacts["metadata"]
    assert codes.dtype == np.uint16 and codes.shape == (1, 9, 4 * 72)
    assert list(meta) == [
        "input_db", "original_length", "sample_rate", "chunk_length", "channels", "padding",
        "dac_version",
    ]  # fmt: skip
    assert meta["dac_version"] == "1.0.0" and meta["padding"] is False
    assert (meta["original_length"], meta["sample_rate"], meta["channels"]) == (110250, 44100, 1)
    assert meta["input_db"].dtype == np.float32
    assert meta["input_db"][0] == pytest.approx(dacfile.loudness(audio.samples, 44100), abs=1e-4)
    buffer = io.BytesIO()
    np.save(buffer, artifacts)
    assert buffer.getvalue() == encoded.data  # byte for byte what np.save makes of the dict
    assert encoded.payload_bytes == len(encoded.data)


def test_window_geometry_of_the_published_models(dac_env: dict[str, Path]) -> None:
    # delay, (window, step, frames per window) of compress(win_duration=1.0).
    for name, delay, window in (
        ("dac16", 5264, (16000, 5346, 34)),
        ("dac44", 7904, (44544, 28522, 72)),
    ):
        codec = get_codec(f"{name}-file")
        model, _ = codec.model()
        assert dacfile.delay(model) == delay
        assert codec.window(model) == window


def test_the_file_costs_more_than_the_nominal_rate(dac_env: dict[str, Path]) -> None:
    chunked = get_codec("dac44-file").encode(noise(44100, 2.5), 7.752)
    # uint16 for 10-bit codes (x1.6) and windows that advance by 28522 of 44544 samples.
    assert chunked.actual_kbps > 2.3 * 7.752
    assert chunked.params["code_bytes"] == 2 * 9 * 288
    short = get_codec("dac44-file").encode(noise(44100, 0.8), 7.752)
    assert short.params["padding"] is True  # one piece, convolution padding on
    assert short.params["code_frames"] == 69  # ceil(35280 / 512)
    assert 1.6 * 7.752 < short.actual_kbps < 1.6 * 7.752 + 8 * 700 / 0.8 / 1000


def test_roundtrip_lengths_channels_and_loudness(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac16-file")
    audio = noise(16000, 1.7, channels=2)
    encoded, decoded = codec.roundtrip(audio, 6.0)
    assert (decoded.rate, decoded.frames, decoded.channels) == (16000, audio.frames, 2)
    assert encoded.params["chunk_length"] == 34 and encoded.params["code_frames"] == 6 * 34
    # decompress brings each channel back to the input's loudness (the tail beyond the
    # original length is part of what it measures, so allow some slack).
    target = dacfile.loudness(audio.samples, 16000)
    for row in decoded.samples:
        assert dacfile.loudness(row[None], 16000) == pytest.approx(target, abs=1.5)
    again = codec.decode(encoded.data)
    np.testing.assert_array_equal(again.samples, decoded.samples)
    resampled = codec.roundtrip(noise(44100, 1.3), 1.0)[1]
    assert (resampled.rate, resampled.frames) == (44100, round(1.3 * 44100))


def test_short_unchunked_file_that_dac_cannot_decode_is_an_error(dac_env: dict[str, Path]) -> None:
    # Unchunked, DAC pads to whole hops and the 16 kHz decoder returns 8 samples fewer: the
    # package's own decompress cannot give the last samples back either.
    codec = get_codec("dac16-file")
    with pytest.raises(CodecError, match="decompress"):
        codec.roundtrip(noise(16000, 0.2), 6.0)  # 3200 samples = 10 whole hops
    _, decoded = codec.roundtrip(Audio(noise(16000, 0.2).samples[:, :3100], 16000), 6.0)
    assert decoded.frames == 3100


class _Harmless:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getcwd, ())


def test_only_arrays_and_plain_values_are_unpickled(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac44-file")
    data = codec.encode(noise(44100, 0.5), 0.861).data
    evil = resave(data, channels=_Harmless())
    with pytest.raises(BitstreamError, match="refuses to unpickle"):
        codec.decode(evil)


def test_corrupt_files_are_bitstream_errors(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac44-file")
    data = codec.encode(noise(44100, 1.5), 1.723).data
    codes = np.load(io.BytesIO(data), allow_pickle=True)[()]["codes"]
    bad_codes = codes.copy()
    bad_codes[0, 0, 0] = 1024
    for bad in (
        data[:-5],
        data[:40],
        b"",
        b"\x93NUMPX" + data[6:],  # wrong magic
        resave(data, dac_version="0.9"),
        resave(data, original_length=10**9),  # would allocate from the header
        resave(data, chunk_length=7),
        resave(data, channels=2),
        resave(data, padding=True),
        resave(data, codes=bad_codes),
        resave(data, codes=codes.astype(np.int64)),
    ):
        with pytest.raises(BitstreamError):
            codec.decode(bad)
