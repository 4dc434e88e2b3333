"""EnCodec 24/48 kHz through the codec, on tiny random checkpoints loaded from disk."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from bench.align import estimate_lag
from bench.audio import Audio
from bench.codecs import get_codec
from bench.codecs.neural import base, bitstream
from bench.errors import AudioError, BitstreamError
from tests.codecs.neural.conftest import noise, reencode


def _model(name: str):
    model, _ = get_codec(name).model()
    return model


@pytest.mark.parametrize("kbps, codebooks", [(1.5, 2), (6.0, 8), (24.0, 32)])
def test_encodec24_bytes_are_the_codes(peers, kbps, codebooks):
    codec = get_codec("encodec24")
    audio = noise(24000, 1.3)
    encoded, decoded = codec.roundtrip(audio, kbps)
    frames = math.ceil(audio.frames / 320)
    code_bytes = math.ceil(codebooks * frames * 10 / 8)
    assert encoded.params["codebooks"] == codebooks and encoded.params["code_frames"] == frames
    assert encoded.params["code_bytes"] == code_bytes and encoded.params["side_info_bytes"] == 0
    assert len(encoded.data) == 27 + 5 + code_bytes + 4 == encoded.payload_bytes
    assert encoded.actual_kbps == pytest.approx(8 * len(encoded.data) / audio.duration / 1000)
    # The codes' own rate is the nominal one (75 frames/s x 10 bits x codebooks).
    assert 8 * code_bytes / audio.duration / 1000 == pytest.approx(kbps, rel=0.01)
    assert (decoded.rate, decoded.frames, decoded.channels) == (24000, audio.frames, 1)


def test_encodec24_adds_no_lag_to_the_models_output(peers):
    """The adapter returns the model's own output, unshifted (lag measured: 0)."""
    import torch

    codec = get_codec("encodec24")
    audio = noise(24000, 0.8, seed=5)
    _, decoded = codec.roundtrip(audio, 6.0)
    model = _model("encodec24")
    with torch.inference_mode():
        x = torch.from_numpy(np.array(audio.samples[None]))
        out = model.encode(x, bandwidth=6.0, return_dict=True)
        direct = model.decode(out.audio_codes, out.audio_scales, return_dict=True).audio_values
    reference = Audio(direct[0].numpy()[:, : audio.frames], 24000)
    assert estimate_lag(reference, decoded) == 0
    np.testing.assert_allclose(decoded.samples, reference.samples, atol=1e-5)


def test_decode_from_bytes_alone(peers):
    codec = get_codec("encodec24")
    encoded, first = codec.roundtrip(noise(44100, 0.7), 3.0)
    base._models.clear()  # a fresh decoder: nothing from the encode survives but the bytes
    again = codec.decode(bytes(encoded.data))
    np.testing.assert_array_equal(again.samples, first.samples)


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_any_input_rate_comes_back_at_its_rate_and_length(peers, rate):
    for name in ("encodec24", "encodec48"):
        audio = noise(rate, 0.37)
        _, decoded = get_codec(name).roundtrip(audio, get_codec(name).ladder()[0])
        assert (decoded.rate, decoded.frames) == (rate, audio.frames)
        assert np.all(np.isfinite(decoded.samples))


def test_encodec24_codes_stereo_as_two_mono_streams(peers):
    codec = get_codec("encodec24")
    mono, _ = codec.roundtrip(noise(24000, 1.0), 3.0)
    stereo, decoded = codec.roundtrip(noise(24000, 1.0, channels=2), 3.0)
    assert stereo.params["code_groups"] == 2 and decoded.channels == 2
    assert stereo.params["code_bytes"] == 2 * mono.params["code_bytes"]


def test_encodec48_scales_are_counted_side_information(peers):
    codec = get_codec("encodec48")
    audio = noise(48000, 2.5)
    encoded, decoded = codec.roundtrip(audio, 6.0)
    segments = math.ceil(audio.frames / 47520)  # one every 0.99 s
    assert encoded.params["side_info_bytes"] == 4 * segments
    assert encoded.params["code_frames"] == 150 * (segments - 1) + math.ceil(
        (audio.frames - 47520 * (segments - 1)) / 320
    )
    assert encoded.params["code_bytes"] == math.ceil(4 * encoded.params["code_frames"] * 10 / 8)
    assert encoded.payload_bytes == len(encoded.data)
    assert 6.0 < encoded.actual_kbps < 6.0 * 1.06  # 1 % overlap, scales, header
    assert decoded.channels == 1
    header = bitstream.read_header(encoded.data)
    scales = np.frombuffer(bitstream.side_information(encoded.data, header), "<f4")
    # Each scale is its segment's RMS: the mono input sits on both channels of the model.
    rms = math.sqrt(float(np.mean(audio.samples[0, :48000].astype(np.float64) ** 2)))
    assert scales[0] == pytest.approx(rms, rel=1e-4)


def test_encodec48_mono_in_is_mean_of_the_stereo_decode(peers):
    codec = get_codec("encodec48")
    audio = noise(48000, 0.6, seed=9)
    _, decoded = codec.roundtrip(audio, 3.0)
    stereo, _ = codec.roundtrip(Audio(np.repeat(audio.samples, 2, axis=0), 48000), 3.0)
    both = codec.decode(stereo.data)
    assert both.channels == 2
    np.testing.assert_allclose(decoded.samples[0], both.samples.mean(axis=0), atol=1e-5)


def test_encodec48_bad_scale_is_a_bitstream_error(peers):
    codec = get_codec("encodec48")
    encoded, _ = codec.roundtrip(noise(48000, 0.5), 3.0)
    header = bitstream.read_header(encoded.data)
    start = bitstream.HEADER_BYTES + 5 * len(header.groups)

    def negative(body):
        body[start : start + 4] = struct.pack("<f", -1.0)

    with pytest.raises(BitstreamError, match="scales"):
        codec.decode(reencode(encoded.data, negative))


def test_corrupt_and_forged_streams_are_bitstream_errors(peers):
    codec = get_codec("encodec24")
    encoded, _ = codec.roundtrip(noise(24000, 0.5), 6.0)
    data = encoded.data
    for bad in (data[:-3], data[:30] + bytes([data[30] ^ 1]) + data[31:], b"garbage!" * 5):
        with pytest.raises(BitstreamError):
            codec.decode(bad)

    def longer(body):  # claims a longer input: the group table no longer matches
        body[15:19] = (24000 * 3600).to_bytes(4, "little")

    with pytest.raises(BitstreamError, match="code groups"):
        codec.decode(reencode(data, longer))
    with pytest.raises(BitstreamError, match="operating point"):
        codec.decode(reencode(data, lambda body: body.__setitem__(20, 5)))
    with pytest.raises(BitstreamError, match="other weights"):
        codec.decode(reencode(data, lambda body: body.__setitem__(7, body[7] ^ 0xFF)))
    with pytest.raises(BitstreamError, match="codec id"):
        get_codec("mimi").decode(data)
    with pytest.raises(BitstreamError, match="mode"):
        get_codec("encodec24-rc").decode(data)


def test_range_coded_variant_decodes_the_same_codes(peers):
    audio = noise(24000, 1.0, seed=2)
    packed, a = get_codec("encodec24").roundtrip(audio, 12.0)
    ranged, b = get_codec("encodec24-rc").roundtrip(audio, 12.0)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert ranged.params["mode"] == "range"
    assert len(ranged.data) <= len(packed.data) + 4


def test_refusals(peers):
    codec = get_codec("encodec24")
    with pytest.raises(AudioError):
        codec.roundtrip(noise(24000, 0.1, channels=3), 1.5)
    with pytest.raises(Exception, match="supported"):
        codec.roundtrip(noise(24000, 0.1), 2.0)


def test_a_run_codes_peers_in_worker_processes(peers, tmp_path):
    """The suite's own run (worker processes, real clip) finds the weights from the environment
    and records the rate measured from the bytes."""
    import csv
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT, TEST_DATA

    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "run_bench.py", "--codecs", "encodec24,mimi-rc", "--limit", "1",
         "--datasets", f"esc50={TEST_DATA / 'esc50-mini'}", "--metrics", "snr",
         "--bitrates", "1.1,3", "--out", str(out), "--cache", str(tmp_path / "c.sqlite"),
         "--no-report"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with (out / "results.csv").open(newline="") as handle:
        rows = {(r["codec"], float(r["target_kbps"])): r for r in csv.DictReader(handle)}
    assert rows[("mimi-rc", 1.1)]["status"] == "ok"
    assert rows[("encodec24", 3.0)]["status"] == "ok"
    assert set(rows) == {("mimi-rc", 1.1), ("encodec24", 3.0)}  # each codec's own points only
    row = rows[("encodec24", 3.0)]
    kbps = 8 * int(row["bytes"]) / float(row["duration_s"]) / 1000
    assert float(row["actual_kbps"]) == pytest.approx(kbps) == pytest.approx(3.058, abs=1e-3)
    assert row["neural"] in ("True", "true", "1") and row["native_rate"] == "24000"
