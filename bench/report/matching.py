"""Matched bitrates and BD-rate: comparing codecs at the same measured number of bits.

Everything here works on **rate-distortion curves**: for one dataset, metric and codec, the
points (mean measured kbps, mean metric) of its lossy operating points. A point's rate and quality
are means over the same rows (status ok, metric not NaN); lossless points (no target bitrate) and
points whose mean is infinite are not on any curve. Points with the same measured rate are merged
(quality averaged). A curve needs two points.

* :func:`interpolate_quality` - a codec's quality at a given rate: piecewise linear in
  ``log(kbps)`` between measured points; outside the measured range the answer is
  ``below_range``/``above_range``, never an extrapolation. Non-monotone curves are interpolated
  as they are (rate is the x axis, so they are still a function).
* :func:`required_kbps` - the rate a codec needs to reach a quality: walking the curve from its
  lowest rate upward, the first rate at which the interpolated curve reaches the quality
  (oriented by ``higher_is_better``); ``below_range`` when its lowest point is already better,
  ``not_reached`` when no measured rate reaches it. For a non-monotone curve this is the
  *cheapest* measured-range rate that reaches the quality.
* :func:`bd_rate` - Bjontegaard delta rate of codec B against anchor A in percent: both curves
  are reduced to their rate-quality frontier (a point is dropped when a cheaper point of the same
  codec is at least as good), ``log(rate)`` is fitted as a function of quality with a piecewise
  cubic Hermite interpolant (PCHIP, as in the JCT-VC/JVET common-test-condition spreadsheets:
  unlike the original cubic polynomial of VCEG-M33 it passes through every point and cannot
  overshoot between them), the two fits are
  integrated over the overlapping quality interval, and the mean log-rate difference ``d`` gives
  ``100 * (exp(d) - 1)``. Negative: B needs fewer bits than A for the same quality. Each codec
  needs at least :data:`BD_MIN_POINTS` frontier points; NaN with a reason otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from bench.report.info import MetricInfo
from bench.report.pchip import pchip_integral
from bench.report.summary import ci95_halfwidth
from bench.report.table import (
    check_results,
    dataset_domains,
    lossy_mask,
    metric_columns,
    neural_codecs,
    numeric,
    ok_mask,
    ok_rows,
    row_groups,
)

#: Fewest frontier points per codec for a BD-rate: the classic method (VCEG-M33) fits a cubic
#: through four rate points, and the JCT-VC/JVET common test conditions use four QPs.
BD_MIN_POINTS = 4

#: Relative slack when deciding whether a rate lies inside a measured range (float noise only).
_RANGE_RTOL = 1e-9

#: Status values.
OK, BELOW_RANGE, ABOVE_RANGE, NOT_REACHED, NO_CURVE = (
    "ok",
    "below_range",
    "above_range",
    "not_reached",
    "no_curve",
)
#: BD-rate reasons.
TOO_FEW_POINTS, NO_OVERLAP = "too_few_points", "no_overlap"

RD_COLUMNS = [
    "dataset",
    "metric",
    "codec",
    "neural",
    "target_kbps",
    "kbps",
    "quality",
    "ci95",
    "n",
]


@dataclass(frozen=True)
class Interpolated:
    """A value read off a curve, or NaN with ``status`` saying why.

    ``bound`` is the measured-range end the query fell outside of (kbps), NaN when inside.
    """

    value: float
    status: str = OK
    bound: float = math.nan

    @property
    def ok(self) -> bool:
        """True when ``value`` was read inside the measured range."""
        return self.status == OK


@dataclass(frozen=True)
class BDRate:
    """A BD-rate in percent (B against anchor A), or NaN with ``reason``.

    ``n_a``/``n_b`` count the frontier points used; ``overlap`` is the quality interval
    integrated over, in the metric's units (low, high).
    """

    value: float
    reason: str = ""
    n_a: int = 0
    n_b: int = 0
    overlap: tuple[float, float] = (math.nan, math.nan)


# -- curves ------------------------------------------------------------------------------------


def _curve(kbps: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Finite, positive-rate points sorted by rate, equal rates merged (quality averaged)."""
    rate = np.asarray(kbps, dtype=np.float64).ravel()
    qual = np.asarray(quality, dtype=np.float64).ravel()
    if rate.shape != qual.shape:
        raise ValueError(f"kbps and quality differ in length: {rate.size} vs {qual.size}")
    keep = np.isfinite(rate) & np.isfinite(qual) & (rate > 0)
    rate, qual = rate[keep], qual[keep]
    if rate.size == 0:
        return rate, qual
    order = np.argsort(rate, kind="stable")
    rate, qual = rate[order], qual[order]
    merged_rate: list[float] = []
    merged_qual: list[list[float]] = []
    for r, q in zip(rate.tolist(), qual.tolist(), strict=True):
        if merged_rate and math.isclose(r, merged_rate[-1], rel_tol=_RANGE_RTOL):
            merged_qual[-1].append(q)
        else:
            merged_rate.append(r)
            merged_qual.append([q])
    # A lone point is its own mean (np.mean of one value returns it exactly); np.mean per point
    # was most of the cost of the matched tables, which read every curve many times.
    means = [q[0] if len(q) == 1 else float(np.mean(q)) for q in merged_qual]
    return np.array(merged_rate), np.array(means)


def interpolate_quality(
    kbps: Sequence[float], quality: Sequence[float], at_kbps: float
) -> Interpolated:
    """Quality of the curve ``(kbps, quality)`` at ``at_kbps``, linear in ``log(kbps)``.

    Outside the measured rates: ``below_range``/``above_range`` with the range end in ``bound``.
    Fewer than two usable points: ``no_curve``.
    """
    if not (math.isfinite(at_kbps) and at_kbps > 0):
        raise ValueError(f"rate must be a positive number of kbps, got {at_kbps!r}")
    rate, qual = _curve(kbps, quality)
    if rate.size < 2:
        return Interpolated(math.nan, NO_CURVE)
    low, high = rate[0], rate[-1]
    if at_kbps < low and not math.isclose(at_kbps, low, rel_tol=_RANGE_RTOL):
        return Interpolated(math.nan, BELOW_RANGE, float(low))
    if at_kbps > high and not math.isclose(at_kbps, high, rel_tol=_RANGE_RTOL):
        return Interpolated(math.nan, ABOVE_RANGE, float(high))
    x = math.log(min(max(at_kbps, low), high))
    return Interpolated(float(np.interp(x, np.log(rate), qual)))


def required_kbps(
    kbps: Sequence[float],
    quality: Sequence[float],
    target: float,
    *,
    higher_is_better: bool = True,
) -> Interpolated:
    """The lowest rate at which the curve ``(kbps, quality)`` reaches quality ``target``.

    The curve is walked from its lowest measured rate up; the answer is interpolated linearly in
    ``log(kbps)`` on the first segment that reaches ``target`` (so a non-monotone curve gives the
    cheapest rate in the measured range). ``below_range`` (``bound`` = lowest rate) when even the
    lowest point is strictly better than ``target``; ``not_reached`` (``bound`` = highest rate)
    when no measured rate reaches it; ``no_curve`` with fewer than two points.
    """
    if not math.isfinite(target):
        raise ValueError(f"target quality must be finite, got {target!r}")
    rate, qual = _curve(kbps, quality)
    if rate.size < 2:
        return Interpolated(math.nan, NO_CURVE)
    sign = 1.0 if higher_is_better else -1.0
    y, t = sign * qual, sign * target
    if y[0] > t:
        return Interpolated(math.nan, BELOW_RANGE, float(rate[0]))
    reached = np.nonzero(y >= t)[0]
    if reached.size == 0:
        return Interpolated(math.nan, NOT_REACHED, float(rate[-1]))
    j = int(reached[0])
    if j == 0:
        return Interpolated(float(rate[0]))
    # y[j-1] < t <= y[j]: every earlier point is below the target, so the segment rises.
    x0, x1 = math.log(rate[j - 1]), math.log(rate[j])
    fraction = (t - y[j - 1]) / (y[j] - y[j - 1])
    return Interpolated(float(math.exp(x0 + fraction * (x1 - x0))))


def frontier(
    kbps: Sequence[float], quality: Sequence[float], *, higher_is_better: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The rate-quality frontier: points, by rising rate, that beat every cheaper point.

    A point that costs more bits than another point of the same codec without being strictly
    better is not an operating point anyone would choose; dropping it makes ``log(rate)`` a
    function of quality (what BD-rate fits).
    """
    rate, qual = _curve(kbps, quality)
    sign = 1.0 if higher_is_better else -1.0
    keep: list[int] = []
    best = -math.inf
    for i, q in enumerate(sign * qual):
        if q > best:
            keep.append(i)
            best = q
    return rate[keep], qual[keep]


def bd_rate(
    kbps_a: Sequence[float],
    quality_a: Sequence[float],
    kbps_b: Sequence[float],
    quality_b: Sequence[float],
    *,
    higher_is_better: bool = True,
    min_points: int = BD_MIN_POINTS,
) -> BDRate:
    """Bjontegaard delta rate of B against anchor A, in percent (PCHIP, see module docstring).

    ``+100`` means B needs twice A's bits for the same quality, ``-50`` half. NaN with reason
    ``too_few_points`` (a frontier shorter than ``min_points``) or ``no_overlap`` (the quality
    ranges do not overlap).
    """
    if min_points < 2:
        raise ValueError("BD-rate needs at least two points per curve")
    return _bd_rate_of_frontiers(
        frontier(kbps_a, quality_a, higher_is_better=higher_is_better),
        frontier(kbps_b, quality_b, higher_is_better=higher_is_better),
        higher_is_better=higher_is_better,
        min_points=min_points,
    )


def _bd_rate_of_frontiers(
    frontier_a: tuple[np.ndarray, np.ndarray],
    frontier_b: tuple[np.ndarray, np.ndarray],
    *,
    higher_is_better: bool,
    min_points: int,
) -> BDRate:
    """:func:`bd_rate` from the two curves' :func:`frontier` (the BD-rate table computes each
    codec's frontier once, not once per pair)."""
    if min_points < 2:
        raise ValueError("BD-rate needs at least two points per curve")
    sign = 1.0 if higher_is_better else -1.0
    (rate_a, qual_a), (rate_b, qual_b) = frontier_a, frontier_b
    n_a, n_b = int(rate_a.size), int(rate_b.size)
    if n_a < min_points or n_b < min_points:
        return BDRate(math.nan, TOO_FEW_POINTS, n_a, n_b)
    # Oriented quality rises along the frontier, so it is a valid (strictly increasing) x axis.
    ya, yb = sign * qual_a, sign * qual_b
    low, high = max(ya[0], yb[0]), min(ya[-1], yb[-1])
    if not high > low:
        return BDRate(math.nan, NO_OVERLAP, n_a, n_b)
    # The suite's PCHIP (scipy.interpolate.PchipInterpolator's rule, without its 0.3 s import).
    area_a = pchip_integral(ya, np.log(rate_a), low, high)
    area_b = pchip_integral(yb, np.log(rate_b), low, high)
    mean_diff = (area_b - area_a) / (high - low)
    ends = sorted((float(sign * low), float(sign * high)))
    return BDRate(100.0 * math.expm1(mean_diff), "", n_a, n_b, (ends[0], ends[1]))


# -- tables over a results table ---------------------------------------------------------------


def _applicable(
    results: pd.DataFrame, metrics: Mapping[str, MetricInfo]
) -> list[tuple[str, str, MetricInfo]]:
    """(dataset, metric, info) pairs whose metric applies to the dataset's domain."""
    domains = dataset_domains(results)
    names = metric_columns(results, metrics)
    return [
        (dataset, name, metrics[name])
        for dataset in sorted(domains)
        for name in names
        if metrics[name].applies_to(domains[dataset])
    ]


def rd_points(results: pd.DataFrame, metrics: Mapping[str, MetricInfo]) -> pd.DataFrame:
    """Every lossy operating point's mean rate and quality, per dataset and applicable metric.

    Columns :data:`RD_COLUMNS`: ``kbps`` and ``quality`` are means over the same rows (status ok,
    metric not NaN), ``ci95`` the quality's 95 % CI half-width, ``n`` the rows used. Points with
    ``n == 0`` and lossless points are left out. Sorted by dataset, metric (mapping order),
    codec, rate.
    """
    check_results(results)
    # Scored lossy rows with a codec (groupby would drop a missing codec), as plain arrays: the
    # columns are read once here instead of once per dataset, metric and point.
    keep = ok_mask(results) & lossy_mask(results) & results["codec"].notna().to_numpy(dtype=bool)
    taken = np.flatnonzero(keep)
    datasets = results["dataset"].astype(str).to_numpy()[taken]
    codecs = results["codec"].astype(str).to_numpy()[taken]
    targets = numeric(results, "target_kbps")[taken]
    rates = numeric(results, "actual_kbps")[taken]
    finite_rate = np.isfinite(rates)
    # dataset -> its points' (codec, target, row positions), by codec then target.
    by_dataset: dict[str, list[tuple[str, float, np.ndarray]]] = {}
    for (dataset, codec, target), index in sorted(row_groups(datasets, codecs, targets).items()):
        by_dataset.setdefault(str(dataset), []).append((str(codec), float(target), index))
    neural = neural_codecs(results)
    order = {name: i for i, name in enumerate(metrics)}
    rows: list[tuple[str, str, str, bool, float, float, float, float, int]] = []
    values_of: dict[str, np.ndarray] = {}
    for dataset, name, _info in _applicable(results, metrics):
        if name not in values_of:
            values_of[name] = numeric(results, name)[taken]
        for codec, target, index in by_dataset.get(dataset, []):
            values = values_of[name][index]
            used = ~np.isnan(values) & finite_rate[index]
            if not used.any():
                continue
            scored = values[used]
            rows.append(
                (
                    dataset,
                    name,
                    codec,
                    codec in neural,
                    target,
                    float(np.mean(rates[index][used])),
                    float(np.mean(scored)),
                    ci95_halfwidth(scored),
                    int(used.sum()),
                )
            )
    if not rows:
        return pd.DataFrame([], columns=RD_COLUMNS)
    # The stable sort the table always had: dataset, metric (mapping order), codec, rate.
    rows.sort(key=lambda row: (row[0], order[row[1]], row[2], row[5]))
    return pd.DataFrame(dict(zip(RD_COLUMNS, map(list, zip(*rows, strict=True)), strict=True)))


class _Point(NamedTuple):
    """One operating point of a curve (the rd_points columns the tables read)."""

    target_kbps: float
    kbps: float
    quality: float
    n: int


@dataclass(frozen=True)
class _CodecCurve:
    """One codec's finite points on one (dataset, metric), sorted by rate: as arrays (what the
    interpolation and BD-rate functions read) and as :class:`_Point` values."""

    kbps: np.ndarray
    quality: np.ndarray
    points: list[_Point]


def _curves(points: pd.DataFrame) -> dict[tuple[str, str], dict[str, _CodecCurve]]:
    """(dataset, metric) -> codec -> that codec's finite points, sorted by rate (stable).

    (dataset, metric) in order of first appearance, codecs sorted: the groups of
    ``groupby(["dataset", "metric"], sort=False)`` then ``groupby("codec")``, read from arrays
    (three tables call this; as frames it was a fifth of a small run's report)."""
    quality = points["quality"].to_numpy(dtype=np.float64)
    finite = np.flatnonzero(np.isfinite(quality))
    columns = [points[c].astype(str).to_numpy()[finite] for c in ("dataset", "metric", "codec")]
    target = points["target_kbps"].to_numpy()[finite]
    kbps = points["kbps"].to_numpy(dtype=np.float64)[finite]
    quality = quality[finite]
    n = points["n"].to_numpy()[finite]
    nested: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for (dataset, metric, codec), index in row_groups(*columns).items():
        nested.setdefault((dataset, metric), {})[codec] = index
    out: dict[tuple[str, str], dict[str, _CodecCurve]] = {}
    for key, by_codec in nested.items():
        out[key] = {}
        for codec in sorted(by_codec):
            index = by_codec[codec]
            index = index[np.argsort(kbps[index], kind="stable")]
            # tolist: Python numbers, as itertuples gave them.
            rows = zip(
                target[index].tolist(),
                kbps[index].tolist(),
                quality[index].tolist(),
                n[index].tolist(),
                strict=True,
            )
            out[key][codec] = _CodecCurve(
                kbps[index], quality[index], [_Point(*row) for row in rows]
            )
    return out


def _lossy_codecs(results: pd.DataFrame) -> dict[str, list[str]]:
    """dataset -> codecs with at least one lossy row (any status) there, sorted; computed once
    per table (once per dataset and metric, it was a fifth of a small run's report)."""
    lossy = results[lossy_mask(results)]
    pairs = set(zip(lossy["dataset"].astype(str), lossy["codec"].astype(str), strict=True))
    out: dict[str, list[str]] = {}
    for dataset, codec in sorted(pairs):
        out.setdefault(dataset, []).append(codec)
    return out


def _clip_curves(
    results: pd.DataFrame, dataset: str, metric: str
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """codec -> clip_id -> that clip's own curve (log kbps, quality), sorted and merged as in
    :func:`interpolate_quality`; clips with fewer than two usable points are left out."""
    ok = ok_rows(results)
    ok = ok[ok["dataset"].astype(str) == dataset]
    ok = ok[lossy_mask(ok)]
    rates, values = numeric(ok, "actual_kbps"), numeric(ok, metric)
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    keys = pd.DataFrame(
        {"codec": ok["codec"].astype(str).to_numpy(), "clip": ok["clip_id"].astype(str).to_numpy()}
    )
    for (codec, clip), index in keys.groupby(["codec", "clip"], sort=False).indices.items():
        rate, value = _curve(rates[index], values[index])
        if rate.size >= 2:
            out.setdefault(str(codec), {})[str(clip)] = (np.log(rate), value)
    return out


class _ClipPoints:
    """The scored rows of a results table by (dataset, codec, target): each operating point's
    per-clip (measured kbps, quality), with the table's columns read once (the matched-quality
    table asks once per neural point; filtering the table each time was most of its cost)."""

    def __init__(self, results: pd.DataFrame) -> None:
        ok = ok_rows(results)
        self._ok = ok
        self._rows = row_groups(
            ok["dataset"].astype(str).to_numpy(),
            ok["codec"].astype(str).to_numpy(),
            numeric(ok, "target_kbps"),
        )
        self._clips = ok["clip_id"].to_numpy()
        self._rates = numeric(ok, "actual_kbps")
        self._values: dict[str, np.ndarray] = {}

    def get(
        self, dataset: str, metric: str, codec: str, target: float
    ) -> dict[str, tuple[float, float]]:
        """clip_id -> (measured kbps, quality) of one operating point, scored rows only."""
        index = self._rows.get((dataset, codec, target))
        if index is None:  # also a NaN target: it equals no row's, as in a table filter
            return {}
        if metric not in self._values:
            self._values[metric] = numeric(self._ok, metric)
        rates, values = self._rates[index], self._values[metric][index]
        return {
            str(clip): (float(r), float(v))
            for clip, r, v in zip(self._clips[index], rates, values, strict=True)
            if np.isfinite(r) and r > 0 and np.isfinite(v)
        }


def paired_differences(
    neural_points: Mapping[str, tuple[float, float]],
    codec_curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Per clip scored by both: the codec's quality on that clip's own curve at the neural
    codec's rate on that clip, minus the neural codec's quality there. Clips whose neural rate
    falls outside the codec's measured range on that clip are left out (never extrapolated)."""
    deltas = []
    for clip, (rate, quality) in neural_points.items():
        curve = codec_curves.get(clip)
        if curve is None:
            continue
        log_rates, values = curve
        x = math.log(rate)
        if x < log_rates[0] - _RANGE_RTOL or x > log_rates[-1] + _RANGE_RTOL:
            continue
        deltas.append(float(np.interp(x, log_rates, values)) - quality)
    return np.array(deltas, dtype=np.float64)


MATCHED_QUALITY_COLUMNS = [
    "dataset",
    "metric",
    "neural_codec",
    "neural_target_kbps",
    "neural_kbps",
    "neural_quality",
    "neural_n",
    "codec",
    "codec_neural",
    "quality",
    "status",
    "bound_kbps",
    "delta",
    "better",
    "n_paired",
    "delta_paired",
    "delta_paired_ci95",
    "resolved",
]


def matched_quality_table(
    results: pd.DataFrame,
    metrics: Mapping[str, MetricInfo],
    points: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every codec's quality at the measured rate of each neural operating point.

    One row per (dataset, metric, neural codec point, other lossy codec). ``quality`` is
    :func:`interpolate_quality` on the codec's curve at ``neural_kbps`` (``status`` and
    ``bound_kbps`` as there); ``delta = quality - neural_quality`` in metric units; ``better``
    is True when the codec beats the neural point (oriented by ``higher_is_better``), NA when
    ``status`` is not ok. ``points`` (from :func:`rd_points`) may be passed to avoid recomputing.

    Whether a difference is more than clip-to-clip noise is judged **paired**, clip by clip
    (:func:`paired_differences`): ``n_paired`` clips, their mean difference ``delta_paired``
    and its 95 % CI half-width ``delta_paired_ci95``; ``resolved`` is True when that interval
    excludes zero (with at least two clips).
    """
    points = rd_points(results, metrics) if points is None else points
    curves = _curves(points)
    lossy_codecs = _lossy_codecs(results)
    neural = neural_codecs(results)
    clip_points: _ClipPoints | None = None  # made when first needed (no neural codec: never)
    rows: list[dict[str, object]] = []
    for (dataset, metric), by_codec in curves.items():
        info = metrics[metric]
        codecs = lossy_codecs.get(dataset, [])
        if not neural & set(by_codec):
            continue
        per_clip = _clip_curves(results, dataset, metric)
        clip_points = clip_points or _ClipPoints(results)
        for neural_codec, neural_points in by_codec.items():
            if neural_codec not in neural:
                continue
            for point in neural_points.points:
                on_clips = clip_points.get(dataset, metric, neural_codec, point.target_kbps)
                for codec in codecs:
                    if codec == neural_codec:
                        continue
                    curve = by_codec.get(codec)
                    if curve is None:
                        got = Interpolated(math.nan, NO_CURVE)
                    else:
                        got = interpolate_quality(curve.kbps, curve.quality, point.kbps)
                    delta = got.value - point.quality
                    better: object = pd.NA
                    if got.ok:
                        better = bool(delta > 0) if info.higher_is_better else bool(delta < 0)
                    paired = paired_differences(on_clips, per_clip.get(codec, {}))
                    mean = float(np.mean(paired)) if paired.size else math.nan
                    ci = ci95_halfwidth(paired)
                    rows.append(
                        {
                            "dataset": dataset,
                            "metric": metric,
                            "neural_codec": neural_codec,
                            "neural_target_kbps": point.target_kbps,
                            "neural_kbps": point.kbps,
                            "neural_quality": point.quality,
                            "neural_n": point.n,
                            "codec": codec,
                            "codec_neural": codec in neural,
                            "quality": got.value,
                            "status": got.status,
                            "bound_kbps": got.bound,
                            "delta": delta,
                            "better": better,
                            "n_paired": int(paired.size),
                            "delta_paired": mean,
                            "delta_paired_ci95": ci,
                            "resolved": bool(math.isfinite(ci) and abs(mean) > ci),
                        }
                    )
    table = pd.DataFrame(rows, columns=MATCHED_QUALITY_COLUMNS)
    table["better"] = table["better"].astype("boolean")
    return table


MATCHED_RATE_COLUMNS = [
    "dataset",
    "metric",
    "neural_codec",
    "neural_target_kbps",
    "neural_kbps",
    "neural_quality",
    "codec",
    "required_kbps",
    "status",
    "bound_kbps",
    "rate_ratio",
]


def matched_rate_table(
    results: pd.DataFrame,
    metrics: Mapping[str, MetricInfo],
    points: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The rate each classic (non-neural) codec needs to equal each neural point's quality.

    One row per (dataset, metric, neural codec point, classic lossy codec): ``required_kbps``
    from :func:`required_kbps` (``status`` ok/below_range/not_reached/no_curve, ``bound_kbps``
    the range end when out of range) and ``rate_ratio = required_kbps / neural_kbps`` (above 1:
    the classic codec needs more bits than the neural codec).
    """
    points = rd_points(results, metrics) if points is None else points
    curves = _curves(points)
    lossy_codecs = _lossy_codecs(results)
    neural = neural_codecs(results)
    rows: list[dict[str, object]] = []
    for (dataset, metric), by_codec in curves.items():
        info = metrics[metric]
        classic = [c for c in lossy_codecs.get(dataset, []) if c not in neural]
        for neural_codec, neural_points in by_codec.items():
            if neural_codec not in neural:
                continue
            for point in neural_points.points:
                for codec in classic:
                    curve = by_codec.get(codec)
                    if curve is None:
                        got = Interpolated(math.nan, NO_CURVE)
                    else:
                        got = required_kbps(
                            curve.kbps,
                            curve.quality,
                            point.quality,
                            higher_is_better=info.higher_is_better,
                        )
                    rows.append(
                        {
                            "dataset": dataset,
                            "metric": metric,
                            "neural_codec": neural_codec,
                            "neural_target_kbps": point.target_kbps,
                            "neural_kbps": point.kbps,
                            "neural_quality": point.quality,
                            "codec": codec,
                            "required_kbps": got.value,
                            "status": got.status,
                            "bound_kbps": got.bound,
                            "rate_ratio": got.value / point.kbps,
                        }
                    )
    return pd.DataFrame(rows, columns=MATCHED_RATE_COLUMNS)


BD_COLUMNS = [
    "dataset",
    "metric",
    "anchor",
    "codec",
    "bd_rate_pct",
    "reason",
    "n_anchor",
    "n_codec",
    "overlap_low",
    "overlap_high",
]


def bd_rate_table(
    results: pd.DataFrame,
    metrics: Mapping[str, MetricInfo],
    points: pd.DataFrame | None = None,
    *,
    min_points: int = BD_MIN_POINTS,
) -> pd.DataFrame:
    """BD-rate of every lossy codec against every other (ordered pairs), per dataset and metric.

    ``bd_rate_pct`` is the rate change of ``codec`` against ``anchor`` at equal quality (negative:
    ``codec`` saves bits); ``reason`` is empty, ``too_few_points``, ``no_overlap`` or
    ``no_curve``; ``n_anchor``/``n_codec`` count frontier points; ``overlap_low/high`` is the
    quality interval compared, in the metric's units.
    """
    points = rd_points(results, metrics) if points is None else points
    curves = _curves(points)
    lossy_codecs = _lossy_codecs(results)
    rows: list[dict[str, object]] = []
    for (dataset, metric), by_codec in curves.items():
        info = metrics[metric]
        codecs = lossy_codecs.get(dataset, [])
        higher = info.higher_is_better
        fronts = {
            codec: frontier(curve.kbps, curve.quality, higher_is_better=higher)
            for codec, curve in by_codec.items()
        }
        for anchor in codecs:
            for codec in codecs:
                if codec == anchor:
                    continue
                a, b = fronts.get(anchor), fronts.get(codec)
                if a is None or b is None:
                    result = BDRate(math.nan, NO_CURVE)
                else:
                    result = _bd_rate_of_frontiers(
                        a, b, higher_is_better=higher, min_points=min_points
                    )
                rows.append(
                    {
                        "dataset": dataset,
                        "metric": metric,
                        "anchor": anchor,
                        "codec": codec,
                        "bd_rate_pct": result.value,
                        "reason": result.reason,
                        "n_anchor": result.n_a,
                        "n_codec": result.n_b,
                        "overlap_low": result.overlap[0],
                        "overlap_high": result.overlap[1],
                    }
                )
    return pd.DataFrame(rows, columns=BD_COLUMNS)
