"""NAMC configurations: model shape, bitstream shape and training schedule in one frozen value.

A configuration fully determines the architecture (and so the parameter count), the nominal
bitrate and the training run. Named presets are the shipped operating points; ``--config`` also
takes a JSON object that overrides fields of a preset (``{"base": "note", "steps": 200}``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from bench.errors import BenchError

#: NAMC runs at this rate only; the codec resamples anything else to it and back.
SAMPLE_RATE = 44100


@dataclass(frozen=True)
class NamcConfig:
    """Everything that defines one NAMC operating point.

    Model: ``frame`` samples per frame (the feature axis; frames are the sequence axis),
    ``pe_dim`` sinusoidal carriers (``pe_dim/2`` frequencies, sine and cosine), ``channels``
    carrier mixtures in the analysis/synthesis layers, ``hidden`` units of the one hidden layer on
    each side, ``latent`` dimensions quantised by ``codebooks`` residual codebooks of
    ``codebook_size`` entries. Side information: min/max of every ``norm_block`` samples.
    Training: ``steps`` Adam steps of ``batch`` random ``norm_block``-long segments.
    """

    name: str
    op_id: int
    frame: int = 63
    pe_dim: int = 16
    channels: int = 33
    hidden: int = 21
    latent: int = 8
    codebook_size: int = 256
    codebooks: int = 1
    norm_block: int = 4410
    # training schedule
    steps: int = 2000
    batch: int = 32
    lr: float = 3e-3
    time_weight: float = 10.0
    spectral_weight: float = 1.0
    commitment: float = 0.25
    ema_decay: float = 0.99
    dead_code_threshold: float = 0.03
    description: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = {"int": int, "float": (int, float), "str": str}[str(f.type)]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise BenchError(f"NAMC config field {f.name!r} must be {f.type}, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise BenchError(f"NAMC config field {f.name!r} must be finite, got {value!r}")
        checks = [
            (1 <= self.op_id <= 255, "op_id must be in 1..255 (one byte of the header)"),
            (2 <= self.frame <= 4096, "frame must be in 2..4096 samples"),
            (self.pe_dim >= 2 and self.pe_dim % 2 == 0, "pe_dim must be even and >= 2"),
            (self.channels >= 1 and self.hidden >= 1 and self.latent >= 1, "sizes must be >= 1"),
            (2 <= self.codebook_size <= 65536, "codebook_size must be in 2..65536"),
            (1 <= self.codebooks <= 32, "codebooks must be in 1..32"),
            (
                self.norm_block >= self.frame and self.norm_block % self.frame == 0,
                "norm_block must be a positive multiple of frame",
            ),
            (self.steps >= 1 and self.batch >= 1, "steps and batch must be >= 1"),
            (self.lr > 0 and 0 < self.ema_decay < 1, "lr must be > 0 and ema_decay in (0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise BenchError(f"NAMC config {self.name!r}: {message}")

    # -- derived ------------------------------------------------------------------------------
    @property
    def index_bits(self) -> int:
        """Bits per index in the bit-packed stream: ``ceil(log2 codebook_size)``."""
        return max(1, math.ceil(math.log2(self.codebook_size)))

    @property
    def frames_per_second(self) -> float:
        """Frames (sequence steps) per second of 44.1 kHz audio."""
        return SAMPLE_RATE / self.frame

    @property
    def codes_per_second(self) -> float:
        """Indices per second: frames per second times codebooks."""
        return self.frames_per_second * self.codebooks

    @property
    def nominal_kbps(self) -> float:
        """Bit-packed index rate (side information and header not included), kbps."""
        return round(self.codes_per_second * self.index_bits / 1000.0, 6)

    @property
    def side_kbps(self) -> float:
        """Rate of the min/max side information (two bytes per normalisation block), kbps."""
        return 16.0 * SAMPLE_RATE / self.norm_block / 1000.0

    def parameter_count(self) -> dict[str, int]:
        """Exact weights per part (codebooks included), matching :mod:`bench.namc.model`."""
        p, c, h, d = self.pe_dim, self.channels, self.hidden, self.latent
        parts = {
            "encoder.analysis (carrier mix + bias)": p * c + c,
            "encoder.hidden": c * h + h,
            "encoder.latent": h * d + d,
            "rvq.codebooks": self.codebooks * self.codebook_size * d,
            "decoder.hidden": d * h + h,
            "decoder.carriers": h * c + c,
            "decoder.synthesis (carrier mix + bias)": p * c + 1,
        }
        parts["total"] = sum(parts.values())
        return parts

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields."""
        return asdict(self)


#: The shipped operating points. ``note`` is the original note's configuration (4,943 weights).
PRESETS: dict[str, NamcConfig] = {
    "note": NamcConfig(
        name="note",
        op_id=1,
        description="the note's size: 4,943 weights, 63-sample frames, 8 carrier frequencies, "
        "one 256-entry codebook",
    ),
    "lowrate": NamcConfig(
        name="lowrate",
        op_id=2,
        frame=147,
        pe_dim=32,
        description="147-sample frames, 16 carrier frequencies, one codebook (codec2's range)",
    ),
    "rvq2": NamcConfig(
        name="rvq2",
        op_id=3,
        pe_dim=32,
        latent=12,
        codebooks=2,
        description="63-sample frames, 16 carrier frequencies, two residual codebooks",
    ),
    "rvq4": NamcConfig(
        name="rvq4",
        op_id=4,
        pe_dim=32,
        latent=16,
        codebooks=4,
        description="63-sample frames, 16 carrier frequencies, four residual codebooks",
    ),
}

#: The default configuration (training command, speed target, reproduction test).
DEFAULT_CONFIG = "note"


def get_config(text: str | None = None) -> NamcConfig:
    """A preset by name, or a JSON object of overrides (``"base"`` names the preset to start from,
    default :data:`DEFAULT_CONFIG`). Unknown names and fields raise :class:`BenchError`."""
    if text is None or not text.strip():
        return PRESETS[DEFAULT_CONFIG]
    text = text.strip()
    if not text.startswith("{"):
        if text not in PRESETS:
            raise BenchError(f"unknown NAMC config {text!r}; valid: {', '.join(PRESETS)}")
        return PRESETS[text]
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"--config is neither a preset name nor valid JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise BenchError("--config JSON must be an object of field overrides")
    return config_from_dict(overrides)


def config_from_dict(data: dict[str, Any]) -> NamcConfig:
    """Build a config from a dict; ``base`` (a preset name) supplies the fields not given."""
    data = dict(data)
    base_name = data.pop("base", None)
    valid = {f.name for f in fields(NamcConfig)}
    unknown = sorted(set(data) - valid)
    if unknown:
        raise BenchError(
            f"unknown NAMC config field(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}"
        )
    if base_name is None and "name" in data and data["name"] in PRESETS:
        base_name = data["name"]
    if base_name is None and not {"name", "op_id"} <= set(data):
        base_name = DEFAULT_CONFIG
    if base_name is not None:
        if base_name not in PRESETS:
            raise BenchError(f"unknown NAMC base config {base_name!r}; valid: {', '.join(PRESETS)}")
        try:
            return replace(PRESETS[base_name], **data)
        except TypeError as exc:
            raise BenchError(f"bad NAMC config: {exc}") from None
    try:
        return NamcConfig(**data)
    except TypeError as exc:
        raise BenchError(f"bad NAMC config: {exc}") from None
