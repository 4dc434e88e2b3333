"""Listening examples: which clips and codec points the report plays, and where their files go.

The report cannot decode audio itself (it only sees the results table), so the work is split:

1. :func:`select_examples` picks, per dataset, a few clips and the (codec, target_kbps) points to
   play: every lossy codec at its **lowest** bitrate, and every codec at the point whose measured
   rate is closest (in log-rate) to each neural codec's lowest operating point (**matched**).
2. The runner writes their WAV files at :func:`example_path` (original included,
   ``codec=None``): copied from the decoded audio the workers kept for the points
   :mod:`bench.examples_plan` predicted, or encoded and decoded again where the prediction
   missed; then it hands back :class:`RenderedExample` values (paths, or the error when a point
   could not be rendered).
3. :func:`bench.report.html.write_report` shows them as ``<audio controls>`` players.

File names are built from hashes and a sanitised codec slug, never from clip ids, so a clip id
holding ``../`` or ``<script>`` cannot reach the file system or the page.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.examples_plan import clip_rank, digest
from bench.report.table import check_results, is_lossless, lossy_mask, neural_codecs, ok_rows

#: Folder (inside the run's output folder) that holds the example audio.
EXAMPLES_DIR = "examples"

LOWEST, MATCHED = "lowest", "matched"


@dataclass(frozen=True)
class ExamplePoint:
    """One codec point to render: ``codec`` at ``target_kbps``.

    ``roles`` says why it was chosen: ``"lowest"`` (the codec's lowest bitrate) and/or
    ``"matched"`` (closest measured rate to ``matched_to``'s lowest operating point).
    """

    codec: str
    target_kbps: float
    roles: tuple[str, ...]
    matched_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExampleRequest:
    """A clip to render: the original plus each of ``points``."""

    dataset: str
    clip_id: str
    points: tuple[ExamplePoint, ...]


@dataclass(frozen=True)
class RenderedExample:
    """What the runner wrote for one :class:`ExampleRequest`.

    ``original`` and the values of ``decoded`` are paths of the written audio files, absolute or
    relative to the run's output folder (they must lie inside it). A point that could not be
    rendered is left out of ``decoded`` and its error message put in ``errors``.
    """

    request: ExampleRequest
    original: str | os.PathLike[str] | None
    decoded: Mapping[ExamplePoint, str | os.PathLike[str]] = field(default_factory=dict)
    errors: Mapping[ExamplePoint, str] = field(default_factory=dict)


def _kbps_text(kbps: float | None) -> str:
    if kbps is None or is_lossless(kbps):
        return "lossless"
    return f"{float(kbps):g}".replace(".", "p").replace("+", "")


def example_path(
    out_dir: str | os.PathLike[str],
    dataset: str,
    clip_id: str,
    codec: str | None,
    kbps: float | None,
    *,
    suffix: str = ".wav",
) -> Path:
    """Where the example audio of (dataset, clip, codec, kbps) goes; ``codec=None``: original.

    ``out_dir/examples/<16 hex of sha256(dataset, clip_id)>/original.wav`` or
    ``.../<codec slug>_<kbps>k_<8 hex>.wav``: only ``[a-z0-9-_.]`` characters, unique per
    (dataset, clip, codec, kbps) and the same on every call.
    """
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
        raise ValueError(f"suffix must look like '.wav', got {suffix!r}")
    folder = Path(out_dir) / EXAMPLES_DIR / digest("clip", str(dataset), str(clip_id))[:16]
    if codec is None:
        return folder / f"original{suffix}"
    slug = re.sub(r"[^a-z0-9]+", "-", str(codec).lower()).strip("-")[:24] or "codec"
    point = digest("point", str(codec), repr(None if kbps is None else float(kbps)))[:8]
    return folder / f"{slug}_{_kbps_text(kbps)}k_{point}{suffix}"


def _point_rates(ok: pd.DataFrame) -> pd.DataFrame:
    """Mean measured kbps per (codec, target_kbps) lossy point."""
    lossy = ok[lossy_mask(ok)]
    rates = lossy.assign(_kbps=pd.to_numeric(lossy["actual_kbps"], errors="coerce"))
    table = rates.groupby(["codec", "target_kbps"], sort=True)["_kbps"].mean().reset_index()
    table["codec"] = table["codec"].astype(str)
    return table[np.isfinite(table["_kbps"].to_numpy(dtype=np.float64))]


def _choose_points(ok: pd.DataFrame, neural: set[str]) -> list[ExamplePoint]:
    """The lowest point of every lossy codec, plus each codec's point matched to each neural
    codec's lowest point (closest in log-rate; ties: the lower target)."""
    rates = _point_rates(ok)
    if rates.empty:
        return []
    roles: dict[tuple[str, float], list[str]] = {}
    matched: dict[tuple[str, float], list[str]] = {}
    lowest = {
        codec: rows.sort_values(["target_kbps", "_kbps"]).iloc[0]
        for codec, rows in rates.groupby("codec", sort=True)
    }
    for codec, row in lowest.items():
        roles.setdefault((codec, float(row["target_kbps"])), []).append(LOWEST)
    for reference in sorted(neural & set(lowest)):
        anchor = math.log(float(lowest[reference]["_kbps"]))
        for codec, rows in rates.groupby("codec", sort=True):
            if codec == reference:
                continue
            distance = (np.log(rows["_kbps"].to_numpy(dtype=np.float64)) - anchor).round(12)
            ranked = rows.assign(_d=np.abs(distance)).sort_values(["_d", "target_kbps"])
            key = (str(codec), float(ranked.iloc[0]["target_kbps"]))
            if MATCHED not in roles.setdefault(key, []):
                roles[key].append(MATCHED)
            matched.setdefault(key, []).append(reference)
    # Neural codecs first, so each example opens with the codec under test.
    order = sorted(roles, key=lambda key: (key[0] not in neural, key[0], key[1]))
    return [
        ExamplePoint(
            codec, target, tuple(roles[(codec, target)]), tuple(matched.get((codec, target), ()))
        )
        for codec, target in order
    ]


def select_examples(results: pd.DataFrame, per_dataset: int = 2) -> list[ExampleRequest]:
    """Clips and codec points to render as listening examples (deterministic).

    Per dataset (sorted): the points are chosen as described in the module docstring from the
    ok rows; the clips are ranked by how many of those points scored ok on them (most first),
    then by a hash of (dataset, clip_id), a fixed shuffle so the examples are not all the
    alphabetically first class. Each request lists only the points that are ok for its clip;
    clips with none are never chosen.
    """
    check_results(results)
    if per_dataset < 1:
        return []
    ok = ok_rows(results)
    neural = neural_codecs(results)
    requests: list[ExampleRequest] = []
    for dataset, rows in ok.groupby(ok["dataset"].astype(str), sort=True):
        points = _choose_points(rows, neural)
        if not points:
            continue
        available: dict[str, list[ExamplePoint]] = {}
        present = {
            (str(c), float(t), str(clip))
            for c, t, clip in zip(rows["codec"], rows["target_kbps"], rows["clip_id"], strict=True)
            if not is_lossless(t)
        }
        for clip in sorted(set(rows["clip_id"].astype(str))):
            got = [p for p in points if (p.codec, p.target_kbps, clip) in present]
            if got:
                available[clip] = got
        ranked = sorted(available, key=lambda c: (-len(available[c]), clip_rank(dataset, c)))
        for clip in ranked[:per_dataset]:
            requests.append(ExampleRequest(str(dataset), clip, tuple(available[clip])))
    return requests
