"""Reading the results table: the helpers of bench.report.table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report.table import ok_mask, ok_rows, row_groups


def test_row_groups_keeps_table_order():
    datasets = np.array(["b", "a", "b", "a", "b"])
    targets = np.array([6.0, 6.0, 6.0, 12.0, 12.0])
    groups = row_groups(datasets, targets)
    assert list(groups) == [("b", 6.0), ("a", 6.0), ("a", 12.0), ("b", 12.0)]
    assert [g.tolist() for g in groups.values()] == [[0, 2], [1], [3], [4]]
    assert all(g.dtype == np.intp for g in groups.values())
    # The same groups as pandas' (sort=False) for NaN-free keys.
    frame = pd.DataFrame({"d": datasets, "t": targets})
    indices = frame.groupby(["d", "t"], sort=False).indices
    assert {k: v.tolist() for k, v in indices.items()} == {k: v.tolist() for k, v in groups.items()}
    assert row_groups(np.array([]), np.array([])) == {}


def test_ok_mask_matches_ok_rows():
    results = pd.DataFrame({"status": ["ok", "error", None, "ok"], "x": [1, 2, 3, 4]})
    assert ok_mask(results).tolist() == [True, False, False, True]
    assert ok_rows(results)["x"].tolist() == [1, 4]
