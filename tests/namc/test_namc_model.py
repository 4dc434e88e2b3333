"""The model's axes and size: frames are the sequence axis, samples of a frame the features.

If the encoder mixed frames (the original note's bug) or encoded a frame's position in the clip,
permuting frames would not simply permute codes and output; these tests would fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.namc.config import PRESETS, get_config
from bench.namc.model import NamcModel, carriers


def frames_of(model: NamcModel, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (count, model.config.frame)).astype(np.float32)


def test_permuting_frames_permutes_codes_and_output(small_model: NamcModel) -> None:
    x = frames_of(small_model, 64)
    perm = np.random.default_rng(1).permutation(64)
    codes = small_model.encode_frames(x)
    assert codes.shape == (64, small_model.config.codebooks)
    assert np.array_equal(small_model.encode_frames(x[perm]), codes[perm])
    out = small_model.decode_frames(codes)
    assert out.shape == x.shape
    np.testing.assert_allclose(small_model.decode_frames(codes[perm]), out[perm], atol=1e-6)


def test_a_frame_only_affects_its_own_codes_and_output(small_model: NamcModel) -> None:
    x = frames_of(small_model, 20)
    changed = x.copy()
    changed[7] = -changed[7] * 0.5
    a, b = small_model.encode_frames(x), small_model.encode_frames(changed)
    rows = np.flatnonzero(np.any(a != b, axis=1))
    assert set(rows) <= {7}
    decoded_a, decoded_b = small_model.decode_frames(a), small_model.decode_frames(b)
    differs = np.flatnonzero(np.any(np.abs(decoded_a - decoded_b) > 0, axis=1))
    assert set(differs) <= {7}


def test_torch_network_is_row_wise_and_matches_numpy_inference() -> None:
    from bench.namc.torch_model import NamcNet

    config = get_config('{"base": "rvq2", "frame": 45, "norm_block": 450}')
    torch.manual_seed(0)
    net = NamcNet(config)
    x = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, (200, 45)).astype(np.float32))
    net.train()
    net(torch.rand(300, 45) * 2 - 1)  # initialises the codebooks from (other) data
    net.eval()
    with torch.no_grad():
        out, codes, _, _ = net(x)
        perm = torch.from_numpy(np.random.default_rng(3).permutation(200))
        out_p, codes_p, _, _ = net(x[perm])
    assert torch.equal(codes_p, codes[perm])
    torch.testing.assert_close(out_p, out[perm])
    arrays = net.export()
    arrays["prior.counts"] = np.zeros((config.codebooks, config.codebook_size), np.int64)
    model = NamcModel(config, arrays)
    np_codes = model.encode_frames(x.numpy())
    # Float rounding may flip a near-tie between two entries, never by more than the tie.
    assert np.mean(np_codes == codes.numpy()) > 0.97
    np.testing.assert_allclose(model.decode_frames(codes.numpy()), out.numpy(), atol=1e-4)


def test_parameter_count_of_the_note_configuration() -> None:
    from bench.namc.torch_model import NamcNet

    note = PRESETS["note"]
    assert note.parameter_count()["total"] == 4943  # the note reports 4,943 parameters
    net = NamcNet(note)
    trainable = sum(p.numel() for p in net.parameters())
    assert trainable + net.rvq.codebooks.numel() == 4943
    assert net.rvq.codebooks.numel() == note.parameter_count()["rvq.codebooks"] == 2048


@pytest.mark.parametrize("name", list(PRESETS))
def test_codes_per_second_is_frames_per_second_times_codebooks(name: str) -> None:
    cfg = PRESETS[name]
    assert cfg.codes_per_second == pytest.approx(44100 / cfg.frame * cfg.codebooks)
    assert cfg.nominal_kbps == pytest.approx(cfg.codes_per_second * cfg.index_bits / 1000)


def test_carriers_are_position_within_frame_codes() -> None:
    e = carriers(63, 16)
    assert e.shape == (63, 16)  # (position in frame, carrier)
    assert np.all(np.linalg.norm(e, axis=0) > 1.0)  # no carrier vanishes on integer positions
    assert np.linalg.matrix_rank(e) == 16
    np.testing.assert_allclose(e[0, 1::2], 1.0)  # cos(0) at the frame's first sample
