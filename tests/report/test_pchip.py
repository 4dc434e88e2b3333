"""The suite's PCHIP against scipy.interpolate.PchipInterpolator (what BD-rate used before)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.interpolate import PchipInterpolator

from bench.report.matching import bd_rate
from bench.report.pchip import pchip_integral, pchip_slopes


def _curve(rng: np.random.Generator, n: int, kind: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.cumsum(rng.uniform(0.01, 3.0, n)) + rng.normal(0.0, 5.0)
    if kind == 0:  # monotone rising
        y = np.cumsum(rng.uniform(0.0, 2.0, n))
    elif kind == 1:  # anything, sign changes of the secants
        y = rng.normal(0.0, 1.0, n)
    elif kind == 2:  # flat segments (repeated values)
        y = np.round(rng.normal(0.0, 1.0, n))
    else:  # a BD-rate-like log rate, falling
        y = -np.log(np.cumsum(rng.uniform(1.0, 50.0, n)))
    return x, y


def _close(ours: float, ref: float, scale: float) -> bool:
    # Relative, or absolute against the curve's own area where the integral nearly cancels
    # (both compute a difference of two antiderivative values, each rounded at that scale).
    return abs(ours - ref) <= 1e-12 * max(abs(ref), scale)


def _check_slopes(slopes: list[float], ref: PchipInterpolator) -> None:
    # scipy keeps each knot's slope as its piece's linear coefficient, the last one only as the
    # last piece's derivative at its end (rounded).
    np.testing.assert_allclose(slopes[:-1], ref.c[2], rtol=1e-15, atol=0)
    last = float(ref(ref.x[-1], 1))
    assert slopes[-1] == pytest.approx(last, rel=1e-12, abs=1e-12 * float(np.max(np.abs(ref.c))))


@pytest.mark.parametrize("n", range(2, 21))
def test_slopes_and_integrals_match_scipy(n: int) -> None:
    rng = np.random.default_rng(n)
    for trial in range(150):
        x, y = _curve(rng, n, trial % 4)
        ref = PchipInterpolator(x, y)
        _check_slopes(pchip_slopes(x, y), ref)
        size = float(np.max(np.abs(y))) + 1e-300
        extent = x[-1] - x[0]
        bounds = [
            (x[0], x[-1]),  # the whole curve
            tuple(np.sort(rng.uniform(x[0], x[-1], 2))),  # inside, partial pieces
            (x[min(1, n - 1)], x[-1]),  # from a knot
            tuple(np.sort(rng.uniform(x[0] - 1.0, x[-1] + 1.0, 2))),  # beyond the ends
        ]
        for low, high in bounds:
            for a, b in ((low, high), (high, low)):  # reversed bounds: the negative
                ours = pchip_integral(x, y, a, b)
                scale = (extent + abs(a - x[0]) + abs(b - x[0])) * size
                assert _close(ours, float(ref.integrate(a, b)), scale), (x, y, a, b)


def test_hand_made_shapes() -> None:
    shapes = [
        ([0.0, 1.0], [2.0, 5.0]),  # two points: a line
        ([0.0, 1.0, 2.0], [0.0, 0.0, 0.0]),  # flat
        ([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 2.0]),  # a flat middle segment
        ([0.0, 1.0, 3.0, 3.5], [0.0, 2.0, -1.0, 4.0]),  # sign changes, end clamp to 3 m0
        ([0.0, 0.1, 5.0], [0.0, 5.0, 5.1]),  # end estimate with the wrong sign: zero
        ([1.0, 2.0, 4.0, 8.0, 16.0], [0.0, 0.5, 0.7, 3.0, 3.1]),
    ]
    for x, y in shapes:
        ref = PchipInterpolator(x, y)
        _check_slopes(pchip_slopes(x, y), ref)
        for low, high in ((x[0], x[-1]), (x[0] + 0.3, x[-1] - 0.2), (x[0] - 1, x[-1] + 2)):
            assert pchip_integral(x, y, low, high) == pytest.approx(
                float(ref.integrate(low, high)), rel=1e-13, abs=1e-13
            )
    assert pchip_integral([0.0, 1.0], [2.0, 5.0], 0.0, 1.0) == pytest.approx(3.5, rel=1e-15)


def test_invalid_input() -> None:
    for x, y in (([0.0], [1.0]), ([0.0, 1.0], [1.0]), ([0.0, 0.0, 1.0], [1.0, 2.0, 3.0])):
        with pytest.raises(ValueError):
            pchip_slopes(x, y)


def _bd_rate_scipy(kbps_a, qual_a, kbps_b, qual_b) -> float:
    """The previous BD-rate arithmetic (higher is better, every point on the frontier)."""
    low, high = max(qual_a[0], qual_b[0]), min(qual_a[-1], qual_b[-1])
    area_a = float(PchipInterpolator(qual_a, np.log(kbps_a)).integrate(low, high))
    area_b = float(PchipInterpolator(qual_b, np.log(kbps_b)).integrate(low, high))
    return 100.0 * math.expm1((area_b - area_a) / (high - low))


def test_bd_rate_matches_the_scipy_arithmetic() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        n_a, n_b = (int(v) for v in rng.integers(4, 9, 2))
        kbps_a = np.cumsum(rng.uniform(2.0, 40.0, n_a))
        kbps_b = np.cumsum(rng.uniform(2.0, 40.0, n_b))
        qual_a = np.cumsum(rng.uniform(0.1, 3.0, n_a))
        qual_b = np.cumsum(rng.uniform(0.1, 3.0, n_b)) + rng.normal(0.0, 1.0)
        if not min(qual_a[-1], qual_b[-1]) > max(qual_a[0], qual_b[0]):
            continue
        ours = bd_rate(kbps_a, qual_a, kbps_b, qual_b)
        assert ours.reason == ""
        ref = _bd_rate_scipy(kbps_a, qual_a, kbps_b, qual_b)
        assert ours.value == pytest.approx(ref, rel=1e-11, abs=1e-11)
