"""NAMC: a small feed-forward neural audio codec with residual vector quantisation.

Modules (numpy only, unless noted):

- :mod:`bench.namc.config`     operating points (``PRESETS``) and ``--config`` parsing
- :mod:`bench.namc.model`      numpy inference; the axes and the positional encoding
- :mod:`bench.namc.norm`       min-max side information on a one-byte log grid
- :mod:`bench.namc.transform`  44.1 kHz signal <-> side information and indices
- :mod:`bench.namc.bitpack`    fixed-width index packing
- :mod:`bench.namc.entropy`    range coding with the learned prior (``constriction``)
- :mod:`bench.namc.bitstream`  the versioned, checksummed byte format
- :mod:`bench.namc.weights`    weight files and the shipped operating points
- :mod:`bench.namc.train`      training from plain clips (torch, imported lazily)
- :mod:`bench.namc.torch_model` the network in torch (training only)

The codecs ``namc`` and ``namc-packed`` are in :mod:`bench.codecs.namc`.
"""

from bench.namc.config import DEFAULT_CONFIG, PRESETS, SAMPLE_RATE, NamcConfig, get_config

__all__ = ["DEFAULT_CONFIG", "PRESETS", "SAMPLE_RATE", "NamcConfig", "get_config"]
