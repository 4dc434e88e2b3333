"""Monotone piecewise cubic Hermite interpolation (PCHIP) and its exact integral, without scipy.

BD-rate integrates two PCHIP fits; ``scipy.interpolate`` costs 0.3 s of import on every run with
two or more lossy codecs for a handful of points. The derivative rule here is the one of
``scipy.interpolate.PchipInterpolator`` (same formulas, same order of operations; the tests
compare with scipy over many curves to <= 1e-12):

* interior points: zero where the neighbouring secants differ in sign or either is zero, else
  the Fritsch-Butland weighted harmonic mean ``(w1 + w2) / (w1 / m[k-1] + w2 / m[k])`` with
  ``w1 = 2 h[k] + h[k-1]``, ``w2 = h[k] + 2 h[k-1]``;
* the two ends: the one-sided three-point estimate ``((2 h0 + h1) m0 - h0 m1) / (h0 + h1)``,
  set to zero when its sign differs from ``m0``'s, and to ``3 m0`` when ``m0`` and ``m1``
  differ in sign and it exceeds ``3 |m0|`` (Moler, *Numerical Computing with MATLAB*, 3.6);
* two points: the straight line.

The integral is that of the piecewise cubic itself (each piece's antiderivative), extrapolating
the end pieces outside the knots as scipy does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _sign(v: float) -> float:
    return math.copysign(1.0, v) if v != 0.0 else 0.0


def _edge(h0: float, h1: float, m0: float, m1: float) -> float:
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if _sign(d) != _sign(m0):
        return 0.0
    if _sign(m0) != _sign(m1) and abs(d) > 3.0 * abs(m0):
        return 3.0 * m0
    return d


def pchip_slopes(x: Sequence[float], y: Sequence[float]) -> list[float]:
    """The derivatives at the knots of ``scipy.interpolate.PchipInterpolator(x, y)``.

    ``x`` strictly increasing, at least two points, all finite.
    """
    xs, ys = [float(v) for v in x], [float(v) for v in y]
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ValueError("PCHIP needs x and y of the same length, at least two points")
    h = [xs[i + 1] - xs[i] for i in range(n - 1)]
    if not all(step > 0.0 for step in h):
        raise ValueError("PCHIP needs strictly increasing x")
    m = [(ys[i + 1] - ys[i]) / h[i] for i in range(n - 1)]
    if n == 2:
        return [m[0], m[0]]
    d = [0.0] * n
    for k in range(1, n - 1):
        m0, m1 = m[k - 1], m[k]
        if _sign(m0) != _sign(m1) or m0 == 0.0 or m1 == 0.0:
            continue
        w1 = 2 * h[k] + h[k - 1]
        w2 = h[k] + 2 * h[k - 1]
        d[k] = 1.0 / ((w1 / m0 + w2 / m1) / (w1 + w2))
    d[0] = _edge(h[0], h[1], m[0], m[1])
    d[-1] = _edge(h[-1], h[-2], m[-1], m[-2])
    return d


def pchip_integral(x: Sequence[float], y: Sequence[float], low: float, high: float) -> float:
    """``PchipInterpolator(x, y).integrate(low, high)``: the exact integral of the interpolant
    (negative when ``high < low``; the end pieces extend beyond the knots)."""
    d = pchip_slopes(x, y)
    xs, ys = [float(v) for v in x], [float(v) for v in y]
    n = len(xs)
    # Each piece as c0 + c1 s + c2 s^2 + c3 s^3 in s = x - x[i] (CubicHermiteSpline's form).
    pieces = []
    for i in range(n - 1):
        dx = xs[i + 1] - xs[i]
        slope = (ys[i + 1] - ys[i]) / dx
        t = (d[i] + d[i + 1] - 2 * slope) / dx
        pieces.append((ys[i], d[i], (slope - d[i]) / dx - t, t / dx))

    def piece_area(i: int, s: float) -> float:
        c0, c1, c2, c3 = pieces[i]
        return s * (c0 + s * (c1 / 2 + s * (c2 / 3 + s * (c3 / 4))))

    low, high = float(low), float(high)
    if high < low:
        return -pchip_integral(x, y, high, low)
    i_low = _piece(xs, low)
    i_high = _piece(xs, high)
    if i_low == i_high:
        return piece_area(i_low, high - xs[i_low]) - piece_area(i_low, low - xs[i_low])
    return math.fsum(
        [
            piece_area(i_low, xs[i_low + 1] - xs[i_low]) - piece_area(i_low, low - xs[i_low]),
            *(piece_area(j, xs[j + 1] - xs[j]) for j in range(i_low + 1, i_high)),
            piece_area(i_high, high - xs[i_high]),
        ]
    )


def _piece(xs: list[float], v: float) -> int:
    """The piece whose polynomial covers ``v`` (the end pieces also cover beyond the knots)."""
    i = 0
    while i < len(xs) - 2 and v >= xs[i + 1]:
        i += 1
    return i
