"""Weight files: ``NAME.npz`` (arrays) beside ``NAME.json`` (config, training record, metrics).

The shipped operating points live in ``bench/namc/weights/``; loading them needs no network.
The JSON records the SHA-256 of the arrays, and loading refuses a file whose arrays do not match
it, so a codec never runs on weights other than the ones its record describes.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.fsutil import atomic_write, atomic_write_text
from bench.namc.config import config_from_dict
from bench.namc.model import ARRAY_SHAPES, NamcModel

#: Folder of the shipped operating points.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: Identifies the JSON record layout.
RECORD_FORMAT = "namc-weights/1"


def paths_for(out: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(npz, json)`` paths for ``--out FILE`` (``FILE`` with or without ``.npz``)."""
    out = Path(out)
    npz = out if out.suffix == ".npz" else out.with_name(out.name + ".npz")
    return npz, npz.with_suffix(".json")


def save_weights(out: str | os.PathLike[str], model: NamcModel, record: dict[str, Any]) -> Path:
    """Write ``model``'s arrays and ``record`` (plus config and hash) atomically; returns npz."""
    npz, meta = paths_for(out)
    full = {
        "format": RECORD_FORMAT,
        "name": model.config.name,
        "op_id": model.config.op_id,
        "config": model.config.to_dict(),
        "parameters": model.config.parameter_count(),
        "nominal_kbps": model.config.nominal_kbps,
        "weights_sha256": model.digest,
        **record,
    }
    arrays = {name: np.ascontiguousarray(model.arrays[name]) for name in ARRAY_SHAPES}
    with atomic_write(npz) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    atomic_write_text(meta, json.dumps(full, indent=2, sort_keys=False) + "\n")
    return npz


def load_weights(path: str | os.PathLike[str]) -> tuple[NamcModel, dict[str, Any]]:
    """Load ``path`` (the ``.npz`` or the ``.json``) and check it against its record."""
    npz, meta = paths_for(Path(path).with_suffix(""))
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BenchError(f"{meta}: cannot read NAMC weight record: {exc}") from None
    if record.get("format") != RECORD_FORMAT:
        raise BenchError(f"{meta}: not a {RECORD_FORMAT} record (format {record.get('format')!r})")
    config = config_from_dict(record["config"])
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {name: np.array(data[name]) for name in data.files}
    except (OSError, ValueError, KeyError) as exc:
        raise BenchError(f"{npz}: cannot read NAMC weights: {exc}") from None
    try:
        model = NamcModel(config, arrays)
    except ValueError as exc:
        raise BenchError(f"{npz}: {exc}") from None
    if model.digest != record.get("weights_sha256"):
        raise BenchError(
            f"{npz}: weights do not match the SHA-256 in {meta.name} (corrupted or replaced)"
        )
    return model, record


@functools.lru_cache(maxsize=4)
def _shipped(folder: str) -> dict[str, tuple[NamcModel, dict[str, Any]]]:
    found: dict[str, tuple[NamcModel, dict[str, Any]]] = {}
    ids: dict[int, str] = {}
    for meta in sorted(Path(folder).glob("*.json")):
        model, record = load_weights(meta)
        name, op_id = model.config.name, model.config.op_id
        if name in found or op_id in ids:
            raise BenchError(
                f"{meta}: operating point {name!r} (id {op_id}) clashes with "
                f"{ids.get(op_id, name)!r}"
            )
        found[name], ids[op_id] = (model, record), name
    return dict(sorted(found.items(), key=lambda item: item[1][0].config.nominal_kbps))


def shipped_operating_points(
    folder: str | os.PathLike[str] | None = None,
) -> dict[str, tuple[NamcModel, dict[str, Any]]]:
    """Every operating point in ``folder`` (default :data:`WEIGHTS_DIR`), by ascending rate."""
    return _shipped(str(Path(folder or WEIGHTS_DIR).resolve()))
