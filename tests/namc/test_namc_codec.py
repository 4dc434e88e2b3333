"""NAMC as a codec of the suite, on real clips: equal length, lag 0, and a bitrate measured
from every byte of the stream."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.align import estimate_lag
from bench.audio import Audio
from bench.codecs import get_codec, resolve_codecs
from bench.codecs.base import Codec
from bench.errors import AudioError, BenchError, UnsupportedBitrate
from bench.namc import bitstream
from bench.namc.config import PRESETS
from bench.namc.transform import snr_db
from bench.namc.weights import WEIGHTS_DIR, load_weights, shipped_operating_points

LADDER = sorted(cfg.nominal_kbps for cfg in PRESETS.values())


@pytest.fixture(scope="module", params=["namc", "namc-packed"])
def codec(request) -> Codec:
    return get_codec(request.param)


def test_both_modes_are_registered_available_and_in_all() -> None:
    names = {c.name for c in resolve_codecs("all")}
    assert {"namc", "namc-packed"} <= names
    for name in ("namc", "namc-packed"):
        c = get_codec(name)
        assert c.availability() == (True, "")
        assert c.neural is True and c.backend == "numpy"
        assert c.native_rates == (44100,) and c.max_channels == 1
        assert c.ladder() == LADDER and len(LADDER) >= 3
        assert c.bitrates.allowed == tuple(LADDER)


@pytest.mark.parametrize("kbps", LADDER)
@pytest.mark.parametrize("which", ["esc50_clip", "speech_clip"])
def test_roundtrip_real_clips(codec: Codec, kbps: float, which: str, request) -> None:
    clip: Audio = request.getfixturevalue(which)
    encoded, decoded = codec.roundtrip(clip, kbps)
    assert decoded.rate == clip.rate and decoded.frames == clip.frames
    assert decoded.channels == 1
    assert estimate_lag(clip, decoded) == 0
    assert encoded.payload_bytes == len(encoded.data) and encoded.container_bytes is None
    assert encoded.actual_kbps == pytest.approx(8 * len(encoded.data) / clip.duration / 1000)
    params = encoded.params
    assert params["header_bytes"] + params["checksum_bytes"] + params["side_info_bytes"] + params[
        "index_bytes"
    ] == len(encoded.data)
    snr = snr_db(clip.samples[0], decoded.samples[0])
    if which == "esc50_clip":
        # This clip is in the validation folds: through the bytes, the codec must give exactly
        # the quality recorded when the weights were trained (same path, no resampling).
        _, record = next(
            p for p in shipped_operating_points().values() if p[0].config.nominal_kbps == kbps
        )
        recorded = {c["clip"]: c["snr_db"] for c in record["validation"]["per_clip"]}
        assert snr == pytest.approx(recorded["1-100032-A-0.wav"], abs=1e-3)
    else:
        assert snr > 1.0  # a coarse codec, but far from noise on speech
    if codec.name == "namc-packed" and which == "speech_clip":  # no digital silence in it
        assert encoded.params["coded_frames"] == encoded.params["frames"]
        assert kbps < encoded.actual_kbps < 1.25 * kbps  # side information and header count


def test_range_coding_spends_fewer_bits_than_packing(esc50_clip: Audio) -> None:
    packed, ranged = get_codec("namc-packed"), get_codec("namc")
    for kbps in LADDER:
        p = packed.encode(esc50_clip, kbps)
        r = ranged.encode(esc50_clip, kbps)
        assert r.actual_kbps < p.actual_kbps
        # Same analysis, so the same decoded audio from either stream.
        np.testing.assert_array_equal(ranged.decode(r.data).samples, ranged.decode(p.data).samples)


@pytest.mark.parametrize("name", list(PRESETS))
def test_codes_per_second_from_the_stream(name: str) -> None:
    cfg = PRESETS[name]
    one_second = Audio(np.random.default_rng(0).uniform(-0.5, 0.5, 44100), 44100)
    encoded = get_codec("namc-packed").encode(one_second, cfg.nominal_kbps)
    frames = -(-44100 // cfg.frame)
    assert encoded.params["frames"] == encoded.params["coded_frames"] == frames
    assert encoded.params["index_bytes"] == (frames * cfg.codebooks * cfg.index_bits + 7) // 8


def test_permuting_blocks_of_the_input_permutes_the_output(esc50_clip: Audio) -> None:
    # Whole normalisation blocks carry their own min/max, so reordering them must reorder the
    # decoded audio and nothing else: no frame knows where it sits in the clip.
    codec = get_codec("namc")
    block = PRESETS["note"].norm_block
    x = esc50_clip.samples[0][: 6 * block].reshape(6, block)
    perm = [3, 0, 5, 1, 4, 2]
    a = codec.decode(codec.encode(Audio(x.reshape(-1), 44100), 5.6).data).samples[0]
    b = codec.decode(codec.encode(Audio(x[perm].reshape(-1), 44100), 5.6).data).samples[0]
    np.testing.assert_allclose(b.reshape(6, block), a.reshape(6, block)[perm], atol=1e-6)


def test_digital_silence_costs_no_index_bits() -> None:
    codec = get_codec("namc-packed")
    block = PRESETS["note"].norm_block
    x = np.zeros(4 * block, dtype=np.float32)
    x[block : 2 * block] = np.sin(np.arange(block) * 0.05) * 0.3  # one block of tone
    encoded, decoded = codec.roundtrip(Audio(x, 44100), 5.6)
    assert encoded.params["coded_frames"] == block // 63 < encoded.params["frames"]
    assert len(encoded.data) == bitstream.OVERHEAD_BYTES + 2 * 4 + block // 63
    assert not np.any(decoded.samples[0, :block]) and not np.any(decoded.samples[0, 2 * block :])
    silence = Audio(np.zeros(5000, dtype=np.float32), 22050)
    encoded, decoded = get_codec("namc").roundtrip(silence, 5.6)
    assert not np.any(decoded.samples)
    assert encoded.params["coded_frames"] == 0


def test_tiny_inputs() -> None:
    codec = get_codec("namc")
    for rate in (8000, 16000, 44100, 48000):
        for frames in (1, 2, 5, 64):
            x = Audio(np.linspace(-0.3, 0.3, frames, dtype=np.float32), rate)
            if rate == 48000 and frames == 1:
                continue
            encoded, decoded = codec.roundtrip(x, 2.4)
            assert decoded.frames == frames and decoded.rate == rate
            assert len(encoded.data) >= bitstream.OVERHEAD_BYTES + 2
    with pytest.raises(AudioError, match="shorter than one sample"):
        codec.encode(Audio(np.ones(1, dtype=np.float32), 96000), 5.6)


def test_refuses_what_it_cannot_code(esc50_clip: Audio) -> None:
    codec = get_codec("namc")
    with pytest.raises(UnsupportedBitrate, match="one of"):
        codec.encode(esc50_clip, 6.0)
    with pytest.raises(AudioError, match="at most 1 channel"):
        codec.encode(esc50_clip.to_channels(2), 5.6)


def test_version_names_format_and_weights() -> None:
    version = get_codec("namc").version()
    assert f"format{bitstream.FORMAT_VERSION}" in version
    for model, _ in shipped_operating_points().values():
        assert model.digest[:12] in version
    assert "constriction" in version and "constriction" not in get_codec("namc-packed").version()


def test_shipped_weights_and_their_records() -> None:
    points = shipped_operating_points()
    assert set(points) == set(PRESETS)
    for name, (model, record) in points.items():
        assert model.config == PRESETS[name]
        assert record["weights_sha256"] == model.digest
        assert record["parameters"]["total"] == model.parameter_count()
        data = record["data"]
        assert data["dataset"] == "esc50" and data["train_folds"] == [4]
        assert data["val_folds"] == [1, 2, 3]
        assert len(data["train_clips"]) == 200 and len(data["val_clips"]) == 9
        # Held out by source recording too: ESC-50 names are FOLD-SOURCE-TAKE-CLASS.wav.
        sources = {f.split("-")[1] for f in data["train_clips"]}
        assert not sources & {f.split("-")[1] for f in data["val_clips"]}
        training = record["training"]
        assert training["seed"] == 0 and "train-namc" in training["command"]
        assert {"torch", "numpy", "python"} <= set(training["versions"])
        validation = record["validation"]
        assert validation["snr_db_mean"] > 1.0
        assert len(validation["perplexity"]) == model.config.codebooks
        assert validation["range_coded_bits_per_frame"] < validation["packed_bits_per_frame"]
        assert model.arrays["prior.counts"].sum() > 0
    assert points["note"][0].parameter_count() == 4943


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    for suffix in (".npz", ".json"):
        shutil.copy(WEIGHTS_DIR / f"note{suffix}", tmp_path / f"note{suffix}")
    model, _ = load_weights(tmp_path / "note.npz")
    arrays = dict(model.arrays)
    arrays["dec.synthesis_bias"] = arrays["dec.synthesis_bias"] + 1e-3
    np.savez(tmp_path / "note.npz", **arrays)
    with pytest.raises(BenchError, match="do not match"):
        load_weights(tmp_path / "note.npz")
    record = json.loads((tmp_path / "note.json").read_text())
    record["format"] = "something-else"
    (tmp_path / "note.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match="not a namc-weights"):
        load_weights(tmp_path / "note.npz")


def test_availability_says_why_weights_cannot_be_used(monkeypatch, small_model) -> None:
    import bench.namc.weights as weights

    points = dict(shipped_operating_points())
    codec = get_codec("namc")
    partial = {k: v for k, v in points.items() if k != "rvq4"}
    monkeypatch.setattr(weights, "shipped_operating_points", lambda folder=None: partial)
    ok, reason = codec.availability()
    assert not ok and "missing" in reason and "rvq4" in reason
    other = {**points, "note": (small_model, {})}
    monkeypatch.setattr(weights, "shipped_operating_points", lambda folder=None: other)
    ok, reason = codec.availability()
    assert not ok and "other than the preset" in reason

    def broken(folder=None):
        raise BenchError("note.npz: weights do not match the SHA-256 in note.json")

    monkeypatch.setattr(weights, "shipped_operating_points", broken)
    ok, reason = codec.availability()
    assert not ok and "unusable" in reason and "SHA-256" in reason
