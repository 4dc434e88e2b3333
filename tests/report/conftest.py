"""Fixtures of the report tests: a constructed results table and its metric properties."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.report.info import MetricInfo

from .builders import METRICS, make_results


@pytest.fixture()
def results() -> pd.DataFrame:
    """A fresh constructed results table (see :func:`make_results`)."""
    return make_results()


@pytest.fixture()
def metrics() -> dict[str, MetricInfo]:
    """Metric properties matching the constructed table's columns."""
    return dict(METRICS)
