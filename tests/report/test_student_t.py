"""The suite's Student-t quantile against scipy (the value the 95 % CIs used to take from it)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import stdtrit

from bench.report.student_t import t_quantile
from bench.report.summary import ci95_halfwidth

#: Every dof from 1 to 2000 and a log-spaced sample up to 1e7.
DOFS = list(range(1, 2001)) + sorted({int(v) for v in np.logspace(np.log10(2001), 7, 200)})


def _worst(p: float, dofs: list[int]) -> tuple[float, int]:
    worst = (0.0, 0)
    for dof in dofs:
        ours, ref = t_quantile(p, dof), float(stdtrit(dof, p))
        worst = max(worst, (abs(ours - ref) / abs(ref), dof))
    return worst


def test_t975_matches_scipy_for_every_dof() -> None:
    assert _worst(0.975, DOFS)[0] <= 1e-12


@pytest.mark.parametrize("p", [1e-10, 0.025, 0.3, 0.6, 0.9, 0.995, 1 - 1e-7])
def test_other_probabilities_match_scipy(p: float) -> None:
    # scipy itself loses digits very close to p = 1/2 (its tail is 1/2 minus a small number):
    # there the closed forms below are the reference.
    assert _worst(p, DOFS[::7])[0] <= 1e-12


def test_non_integer_dof_matches_scipy() -> None:
    for dof in (1.5, 2.7, 9.25, 30.3, 777.7, 12345.5, 2.5e6 + 0.5):
        assert t_quantile(0.975, dof) == pytest.approx(float(stdtrit(dof, 0.975)), rel=1e-12)


@pytest.mark.parametrize("p", [0.5 + 1e-12, 0.5 + 1e-6, 0.51, 0.75, 0.975, 0.9999])
def test_closed_forms_near_and_far_from_the_centre(p: float) -> None:
    # dof 1 (Cauchy) and 2 have closed-form quantiles (the Cauchy's written where it is well
    # conditioned: 1 - p is exact).
    cauchy = math.tan(math.pi * (p - 0.5)) if p < 0.75 else 1 / math.tan(math.pi * (1 - p))
    assert t_quantile(p, 1) == pytest.approx(cauchy, rel=1e-14)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-14)
    # Odd symmetry.
    assert t_quantile(1 - p, 7) == -t_quantile(p, 7)


def test_edges_and_invalid_arguments() -> None:
    assert t_quantile(0.5, 3) == 0.0
    assert t_quantile(1.0, 3) == math.inf
    assert t_quantile(0.0, 3) == -math.inf
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959963984540054, rel=1e-15)
    for p, dof in ((0.975, 0), (0.975, 0.5), (1.5, 3), (-0.1, 3), (0.975, math.nan)):
        with pytest.raises(ValueError):
            t_quantile(p, dof)


def test_ci95_halfwidth_uses_the_quantile() -> None:
    values = np.array([1.0, 2.0, 4.0, 8.0])
    expected = float(stdtrit(3, 0.975)) * float(np.std(values, ddof=1)) / 2.0
    assert ci95_halfwidth(values) == pytest.approx(expected, rel=1e-14)
