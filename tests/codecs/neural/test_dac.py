"""DAC adapters (bench/codecs/neural/dac.py) on tiny random DacModels saved as checkpoints.

The tiny models keep the published geometry (rate, strides, number and size of codebooks) and
shrink only the channel widths, so code shapes, ladders and byte counts are those of the real
checkpoints. They are written with ``save_pretrained`` (config.json + model.safetensors, as on
the Hugging Face hub, including the stale ``hop_length`` of the published configs) and loaded
through the adapter's own lookup (``$BENCH_WEIGHTS_DAC16`` ...).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from bench.align import estimate_lag  # noqa: E402
from bench.audio import Audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from bench.codecs.neural import base, bitstream  # noqa: E402
from bench.errors import BitstreamError, CodecUnavailable, UnsupportedBitrate  # noqa: E402
from tests.codecs.neural.conftest import noise  # noqa: E402

#: (codec, rate, strides, codebooks) of the published checkpoints.
GEOMETRY = {
    "dac16": (16000, [2, 4, 5, 8], 12),
    "dac24": (24000, [2, 4, 5, 8], 32),
    "dac44": (44100, [2, 4, 8, 8], 9),
}
#: Samples the decoder gives fewer than frames * hop (a stride-5 stage loses one at 1/8 rate).
TAIL = {"dac16": 8, "dac24": 8, "dac44": 0}


def save_tiny_dac(folder: Path, rate: int, ratios: list[int], n_codebooks: int) -> Path:
    """A random DAC with the real geometry and tiny widths, saved like the hub checkpoints."""
    from transformers import DacConfig, DacModel

    torch.manual_seed(0)
    config = DacConfig(
        encoder_hidden_size=2,
        decoder_hidden_size=16,
        downsampling_ratios=ratios,
        n_codebooks=n_codebooks,
        codebook_size=1024,
        codebook_dim=8,
        sampling_rate=rate,
        hop_length=512,  # as in descript/dac_16khz and dac_24khz config.json (stale)
    )
    DacModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dac")
    return {name: save_tiny_dac(root / name, *geo) for name, geo in GEOMETRY.items()}


@pytest.fixture
def dac_env(checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for name, folder in checkpoints.items():
        monkeypatch.setenv(f"BENCH_WEIGHTS_{name.upper()}", str(folder))
    return checkpoints


def test_operating_points_are_codebook_counts() -> None:
    dac16, dac24, dac44 = (get_codec(n) for n in ("dac16", "dac24", "dac44"))
    assert dac16.points == {round(0.5 * n, 3): n for n in range(1, 13)}
    assert dac24.points == {round(0.75 * n, 3): n for n in range(1, 33)}
    assert dac44.points[7.752] == 9 and dac44.points[0.861] == 1
    assert dac16.ladder() == [0.5, 1.0, 2.0, 4.0, 6.0]
    assert dac24.ladder() == [0.75, 1.5, 3.0, 6.0, 12.0, 24.0]
    assert dac24.bitrates.accepts(0.75 * 5) and not dac24.bitrates.accepts(0.8)
    assert dac44.native_rates == (44100,)
    assert get_codec("dac44-rc").ladder() == dac44.ladder()


def test_missing_weights_say_where_they_were_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_WEIGHTS_DAC16", str(tmp_path / "nowhere"))
    ok, reason = get_codec("dac16").availability()
    assert not ok
    assert str(tmp_path / "nowhere") in reason and "descript/dac_16khz" in reason


@pytest.mark.parametrize("name", ["dac16", "dac44"])
def test_roundtrip_counts_the_bytes(dac_env: dict[str, Path], name: str) -> None:
    codec = get_codec(name)
    rate, ratios, n_max = GEOMETRY[name]
    hop = int(np.prod(ratios))
    audio = noise(48000, 0.7)  # resampled in and out
    for kbps in (codec.ladder()[0], codec.ladder()[-1]):
        encoded, decoded = codec.roundtrip(audio, kbps)
        assert (decoded.rate, decoded.frames, decoded.channels) == (48000, audio.frames, 1)
        assert np.all(np.isfinite(decoded.samples))
        n = codec.points[kbps]
        frames = math.ceil((round(0.7 * rate) + TAIL[name]) / hop)
        overhead = bitstream.HEADER_BYTES + 5 + bitstream.CRC_BYTES
        assert len(encoded.data) == overhead + math.ceil(n * frames * 10 / 8)
        assert encoded.payload_bytes == len(encoded.data)
        assert encoded.actual_kbps == pytest.approx(8 * len(encoded.data) / 0.7 / 1000)
        assert encoded.params["codebooks"] == n
    assert n == n_max


def test_hop_comes_from_the_strides_not_the_stale_config(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac24")
    model, _ = codec.model()
    assert model.config.hop_length == 512  # what the published config.json says
    # 75 frames/s (hop 320); 24000 + 8 samples need a 76th frame for the decoder's tail.
    assert codec.code_shapes(model, 24000 - 8, 32) == [(32, 75)]
    assert codec.code_shapes(model, 24000, 32) == [(32, 76)]
    encoded = codec.encode(noise(24000, 1.0), 24.0)
    assert encoded.params["code_frames"] == 76


def test_output_is_the_models_own_output_without_shift(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac16")
    model, _ = codec.model()
    audio = noise(16000, 0.5)
    _, decoded = codec.roundtrip(audio, 6.0)
    # 8000 samples = 25 hops, but the decoder would give 7992: 26 frames are sent.
    x = torch.zeros(1, 1, 26 * 320)
    x[0, 0, : audio.frames] = torch.tensor(audio.samples[0])
    with torch.inference_mode():
        own = model(x, n_quantizers=12).audio_values.numpy().reshape(-1)
    assert own.shape == (26 * 320 - 8,)
    assert model(x[..., :8000], n_quantizers=12).audio_values.shape[-1] == 7992
    np.testing.assert_allclose(decoded.samples[0], own[: audio.frames], atol=1e-5)
    reference = Audio(own[None, : audio.frames].astype(np.float32), 16000)
    assert estimate_lag(reference, decoded) == 0


def test_decodes_from_the_bytes_alone(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac16")
    encoded, decoded = codec.roundtrip(noise(22050, 0.4), 2.0)
    base._models.clear()  # a fresh process: nothing from the encode is kept
    again = get_codec("dac16").decode(bytes(encoded.data))
    np.testing.assert_array_equal(again.samples, decoded.samples)


def test_stereo_is_coded_channel_by_channel(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac16")
    mono = codec.encode(noise(16000, 0.5), 4.0)
    stereo_audio = noise(16000, 0.5, channels=2)
    stereo, decoded = codec.roundtrip(stereo_audio, 4.0)
    assert stereo.params["code_groups"] == 2
    assert stereo.params["code_bytes"] == 2 * mono.params["code_bytes"]
    assert decoded.channels == 2
    left = codec.roundtrip(stereo_audio.segment(0, stereo_audio.frames).mono(), 4.0)[1]
    assert left.channels == 1
    with pytest.raises(UnsupportedBitrate):
        codec.encode(stereo_audio, 4.1)


def test_corrupt_streams_are_bitstream_errors(dac_env: dict[str, Path]) -> None:
    codec = get_codec("dac16")
    data = codec.encode(noise(16000, 0.3), 1.0).data
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    for bad in (bytes(flipped), data[:-3], data[:10], b"", b"NPEC" + data[4:20]):
        with pytest.raises(BitstreamError):
            codec.decode(bad)
    with pytest.raises(BitstreamError):  # another model's stream
        get_codec("dac44").decode(data)
    with pytest.raises(BitstreamError):  # packed stream given to the range-coded name
        get_codec("dac16-rc").decode(data)


def test_range_coded_variant_decodes_the_same_codes(dac_env: dict[str, Path]) -> None:
    audio = noise(16000, 0.4)
    packed, out_packed = get_codec("dac16").roundtrip(audio, 6.0)
    ranged, out_ranged = get_codec("dac16-rc").roundtrip(audio, 6.0)
    assert ranged.params["mode"] == "range"
    np.testing.assert_array_equal(out_packed.samples, out_ranged.samples)
    assert len(ranged.data) <= len(packed.data) + 16


def test_checkpoint_of_another_geometry_is_refused(
    dac_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_WEIGHTS_DAC44", str(dac_env["dac16"]))
    base._models.clear()
    with pytest.raises(CodecUnavailable, match="expected"):
        get_codec("dac44").encode(noise(44100, 0.2), 7.752)
