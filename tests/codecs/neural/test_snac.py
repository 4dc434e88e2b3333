"""SNAC adapters (bench/codecs/neural/snac_codec.py) on tiny random SNAC models.

The tiny models keep the published geometry (rate, strides, attention window, 4096-entry
codebooks, vq strides) and shrink only the widths (the local attention needs 64 channels). They
are saved the way the hub repos hold them, ``config.json`` + ``pytorch_model.bin`` (a
``torch.save``\\ d state dict), and loaded by ``SNAC.from_pretrained`` through the adapter's lookup.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("snac")
torch = pytest.importorskip("torch")

from bench.align import estimate_lag  # noqa: E402
from bench.audio import Audio  # noqa: E402
from bench.codecs import get_codec  # noqa: E402
from bench.codecs.neural import base, bitstream  # noqa: E402
from bench.codecs.neural.snac_codec import CONFIGS, snac_geometry  # noqa: E402
from bench.errors import BitstreamError, CodecUnavailable  # noqa: E402
from tests.codecs.neural.conftest import noise  # noqa: E402


def save_tiny_snac(folder: Path, name: str) -> Path:
    """A random SNAC with the geometry of ``name`` and tiny widths, saved as on the hub."""
    from snac import SNAC

    config = dict(CONFIGS[name], encoder_dim=4, decoder_dim=64)
    torch.manual_seed(0)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.save(SNAC(**config).state_dict(), folder / "pytorch_model.bin")
    return folder


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("snac")
    return {name: save_tiny_snac(root / name, name) for name in ("snac24", "snac32")}


@pytest.fixture
def snac_env(checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    for name, folder in checkpoints.items():
        monkeypatch.setenv(f"BENCH_WEIGHTS_{name.upper()}", str(folder))
    return checkpoints


def test_one_operating_point_each_at_the_published_rates() -> None:
    # The README of hubertsiuzdak/snac: 0.98, 1.9 and 2.6 kbps.
    assert get_codec("snac24").ladder() == [0.984]
    assert get_codec("snac32").ladder() == [1.875]
    assert get_codec("snac44").ladder() == [2.584]
    assert get_codec("snac44").points == {2.584: 4}
    assert snac_geometry(CONFIGS["snac24"]) == (512, 2048, (4, 2, 1))
    assert snac_geometry(CONFIGS["snac32"]) == (384, 12288, (8, 4, 2, 1))


def test_code_shapes_follow_snac_padding(snac_env: dict[str, Path]) -> None:
    codec = get_codec("snac32")
    model, _ = codec.model()
    # The README's example: 32000 samples give [12, 24, 48, 96] frames (padded to 36864).
    assert codec.code_shapes(model, 32000, 4) == [(1, 12), (1, 24), (1, 48), (1, 96)]
    x = torch.zeros(1, 1, 32000)
    with torch.inference_mode():
        assert [c.shape[-1] for c in model.encode(x)] == [12, 24, 48, 96]


@pytest.mark.parametrize("name", ["snac24", "snac32"])
def test_roundtrip_counts_the_bytes(snac_env: dict[str, Path], name: str) -> None:
    codec = get_codec(name)
    (kbps,) = codec.ladder()
    audio = noise(44100, 0.6)  # resampled in and out
    encoded, decoded = codec.roundtrip(audio, kbps)
    assert (decoded.rate, decoded.frames, decoded.channels) == (44100, audio.frames, 1)
    assert np.all(np.isfinite(decoded.samples))
    hop, pad_to, strides = snac_geometry(CONFIGS[name])
    samples = round(0.6 * CONFIGS[name]["sampling_rate"])
    finest = math.ceil(samples / pad_to) * pad_to // hop
    codes = sum(finest // s for s in strides)
    groups = len(strides)
    overhead = bitstream.HEADER_BYTES + 5 * groups + bitstream.CRC_BYTES
    assert len(encoded.data) == overhead + math.ceil(codes * 12 / 8)
    assert encoded.actual_kbps == pytest.approx(8 * len(encoded.data) / 0.6 / 1000)
    assert encoded.params["code_groups"] == groups


def test_output_is_the_models_own_output_without_shift(snac_env: dict[str, Path]) -> None:
    codec = get_codec("snac24")
    model, _ = codec.model()
    audio = noise(24000, 0.5)
    _, decoded = codec.roundtrip(audio, 0.984)
    with torch.inference_mode(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the adapter's noise seed
        own = model.decode(model.encode(torch.tensor(audio.samples[None]))).numpy().reshape(-1)
    np.testing.assert_allclose(decoded.samples[0], own[: audio.frames], atol=1e-5)
    reference = Audio(own[None, : audio.frames].astype(np.float32), 24000)
    assert estimate_lag(reference, decoded) == 0


def test_decoding_is_deterministic_from_the_bytes_alone(snac_env: dict[str, Path]) -> None:
    codec = get_codec("snac24")
    encoded, decoded = codec.roundtrip(noise(16000, 0.4), 0.984)
    torch.manual_seed(1234)  # the global generator's state must not matter
    base._models.clear()
    again = get_codec("snac24").decode(bytes(encoded.data))
    np.testing.assert_array_equal(again.samples, decoded.samples)


def test_stereo_and_range_coding(snac_env: dict[str, Path]) -> None:
    stereo = noise(32000, 0.5, channels=2)
    packed, out = get_codec("snac32").roundtrip(stereo, 1.875)
    assert out.channels == 2 and packed.params["code_groups"] == 8
    ranged, out_rc = get_codec("snac32-rc").roundtrip(stereo, 1.875)
    np.testing.assert_array_equal(out.samples, out_rc.samples)
    assert ranged.params["mode"] == "range"


def test_corrupt_streams_are_bitstream_errors(snac_env: dict[str, Path]) -> None:
    codec = get_codec("snac24")
    data = codec.encode(noise(24000, 0.3), 0.984).data
    flipped = bytearray(data)
    flipped[-10] ^= 0x01
    for bad in (bytes(flipped), data[:-1], data[:30], b"\x00" * 40):
        with pytest.raises(BitstreamError):
            codec.decode(bad)
    with pytest.raises(BitstreamError):
        get_codec("snac32").decode(data)


def test_missing_or_mismatched_weights(
    snac_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_WEIGHTS_SNAC44", str(tmp_path))
    ok, reason = get_codec("snac44").availability()
    assert not ok and str(tmp_path) in reason and "hubertsiuzdak/snac_44khz" in reason
    monkeypatch.setenv("BENCH_WEIGHTS_SNAC44", str(snac_env["snac32"]))  # 32 kHz weights
    base._models.clear()
    with pytest.raises(CodecUnavailable, match="expected"):
        get_codec("snac44").encode(noise(44100, 0.3), 2.584)
