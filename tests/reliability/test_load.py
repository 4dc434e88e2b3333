"""Load (issue 8, item 4): runs over 200 and 2,000 generated clips with ``--jobs 2`` complete with
every row present and memory flat.

The measurement is ``benchmarks/bench_load.py``'s (peak RSS of the main process and of the
largest worker, from ``getrusage``). On the development machine (2 cores, shared) the 200-clip
run takes about 4 s and the 2,000-clip run about 15 s: both fit the default run. The 2,000-clip
test is marked ``slow`` for whoever wants a quick run (``-m "not slow"``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.bench_load import LoadRun, make_clips, measure_run


def check_rows(run: LoadRun, work: Path) -> None:
    table = pd.read_csv(work / "reports" / "run" / "results.csv")
    # One row per (clip, codec): flac (lossless) and mulaw (64 kbps), every one computed.
    assert run.rows == run.points == 2 * run.clips and run.failed == 0
    assert table.groupby(["clip_id", "codec"]).size().eq(1).all()
    assert table["clip_id"].nunique() == run.clips
    assert table["snr"].notna().all()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoadRun, Path]:
    root = tmp_path_factory.mktemp("load200")
    run = measure_run(make_clips(root / "clips", 200), root / "work", jobs=2)
    return run, root / "work"


def test_200_clips_complete_with_every_row(small: tuple[LoadRun, Path]) -> None:
    run, work = small
    check_rows(run, work)
    assert run.worker_mb < 1024 and run.main_mb < 1024  # sane absolute bounds


@pytest.mark.slow
def test_2000_clips_complete_with_every_row_and_flat_memory(
    small: tuple[LoadRun, Path], tmp_path: Path
) -> None:
    base, _ = small
    run = measure_run(make_clips(tmp_path / "clips", 2000), tmp_path / "work", jobs=2)
    check_rows(run, tmp_path / "work")
    # Ten times the clips: a worker holds one clip at a time, so its peak must not move; the
    # main process holds the results table (4,000 rows, about 4 kB each while it is built).
    assert run.worker_mb <= base.worker_mb * 1.1 + 10, (base, run)
    assert run.main_mb <= base.main_mb + 40, (base, run)
