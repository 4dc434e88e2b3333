"""Which listening examples the workers keep, predicted from the plan before any result exists.

The report's :func:`bench.report.examples.select_examples` picks its clips and points from the
results. The workers decode every point anyway, so they can keep the decoded audio of the points
it will pick, but only if they are told before the compute starts. This module predicts those
points from the plan alone (no pandas: it runs before the first job goes out). A wrong guess
costs only speed: the runner encodes again whatever the workers did not keep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence

#: Clips kept per dataset beyond the ``per_dataset`` the report shows, for when a failed point
#: moves a predicted clip down the ranking.
SPARE_CLIPS = 1


def digest(*parts: str) -> str:
    """SHA-256 (hex) of ``parts`` joined by NUL: the examples' fixed shuffle and file names."""
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def clip_rank(dataset: str, clip_id: str) -> str:
    """The order in which :func:`select_examples` takes clips that have as many ok points."""
    return digest(str(dataset), str(clip_id))


def predict_clips(
    clips: Iterable[tuple[str, str]], per_dataset: int, spare: int = SPARE_CLIPS
) -> set[tuple[str, str]]:
    """The (dataset, clip_id) pairs ranked first in each dataset if every point is ok:
    ``per_dataset`` of them plus ``spare``."""
    if per_dataset < 1:
        return set()
    by_dataset: dict[str, set[str]] = {}
    for dataset, clip_id in clips:
        by_dataset.setdefault(str(dataset), set()).add(str(clip_id))
    chosen: set[tuple[str, str]] = set()
    for dataset, ids in by_dataset.items():
        ranked = sorted(ids, key=lambda clip_id: clip_rank(dataset, clip_id))
        chosen.update((dataset, clip_id) for clip_id in ranked[: per_dataset + max(spare, 0)])
    return chosen


def predict_points(
    ladders: Mapping[str, Sequence[float | None]], neural: Collection[str]
) -> set[tuple[str, float]]:
    """The (codec, kbps) points of a predicted clip that can become examples: each lossy codec's
    lowest bitrate; with a neural codec in the run, every lossy point (which point is matched to
    the neural codec's lowest depends on the measured rates)."""
    points: set[tuple[str, float]] = set()
    with_neural = any(codec in ladders for codec in neural)
    for codec, ladder in ladders.items():
        lossy = sorted(float(kbps) for kbps in ladder if kbps is not None)
        if lossy:
            points.update((codec, kbps) for kbps in (lossy if with_neural else lossy[:1]))
    return points
