"""Fixtures of the NAMC tests: a small random model (no training needed) and its config."""

from __future__ import annotations

import numpy as np
import pytest

from bench.namc.config import NamcConfig
from bench.namc.model import ARRAY_SHAPES, NamcModel, expected_shape


def random_model(config: NamcConfig, seed: int = 0) -> NamcModel:
    """A model with random weights of the right shapes and a random (skewed) prior."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name in ARRAY_SHAPES:
        shape = expected_shape(name, config)
        if name == "prior.counts":
            arrays[name] = rng.geometric(0.05, size=shape).astype(np.int64) - 1
        else:
            arrays[name] = (rng.standard_normal(shape) * 0.3).astype(np.float32)
    return NamcModel(config, arrays)


@pytest.fixture(scope="session")
def make_random_model():
    """The :func:`random_model` factory, for tests that need several models."""
    return random_model


@pytest.fixture(scope="session")
def small_config() -> NamcConfig:
    """Odd sizes on purpose (frame 21, 3 codebooks of 37 entries: 6-bit indices)."""
    return NamcConfig(
        name="small",
        op_id=200,
        frame=21,
        pe_dim=6,
        channels=5,
        hidden=7,
        latent=4,
        codebook_size=37,
        codebooks=3,
        norm_block=21 * 10,
    )


@pytest.fixture(scope="session")
def small_model(small_config: NamcConfig) -> NamcModel:
    """A random model of :func:`small_config`."""
    return random_model(small_config)
