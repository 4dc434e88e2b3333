"""ESC-50 loader against the real subset in ../shared/data/esc50-mini.

Expectations are computed from the CSV and the files in the test itself, never hard-coded.
"""

from __future__ import annotations

import csv
import os
import pickle
from collections import Counter
from pathlib import Path

import pytest

from bench.datasets import DatasetSpec, load_clips, parse_datasets_arg
from bench.errors import AudioError, BenchError


@pytest.fixture(scope="module")
def rows(esc50_dir: Path) -> list[dict[str, str]]:
    with open(esc50_dir / "meta" / "esc50.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def spec(esc50_dir: Path) -> DatasetSpec:
    (parsed,) = parse_datasets_arg(f"esc50={esc50_dir}")
    return parsed


def test_counts_folds_classes_match_the_csv_and_files(spec, rows, esc50_dir: Path) -> None:
    clips = load_clips(spec)
    wavs = {p.name for p in (esc50_dir / "audio").glob("*.wav")}
    assert len(clips) == len(rows) == len(wavs)
    assert {c.meta["filename"] for c in clips} == wavs
    assert Counter(c.meta["fold"] for c in clips) == Counter(int(r["fold"]) for r in rows)
    assert Counter(c.meta["category"] for c in clips) == Counter(r["category"] for r in rows)
    by_id = {c.clip_id: c for c in clips}
    for row in rows:
        clip = by_id[Path(row["filename"]).stem]
        assert clip.meta["fold"] == int(row["fold"])
        assert clip.meta["target"] == int(row["target"])
        assert clip.meta["category"] == row["category"]
        assert clip.meta["esc10"] is (row["esc10"] == "True")
        assert clip.meta["src_file"] == row["src_file"]
        assert clip.meta["take"] == row["take"]
        assert clip.path == esc50_dir / "audio" / row["filename"]
        # the upstream file name encodes fold and class target: check they agree
        fold, _, _, target = Path(row["filename"]).stem.split("-")
        assert (int(fold), int(target)) == (clip.meta["fold"], clip.meta["target"])
    assert all(c.domain == "audio" and not c.synthetic and c.dataset == "esc50" for c in clips)


def test_filters(spec, rows) -> None:
    folds = load_clips(spec, folds=[1, 2, 3])
    assert len(folds) == sum(int(r["fold"]) in (1, 2, 3) for r in rows)
    assert {c.meta["fold"] for c in folds} <= {1, 2, 3}
    assert len(load_clips(spec, folds="4")) == sum(r["fold"] == "4" for r in rows)
    esc10 = load_clips(spec, esc10=True)
    assert len(esc10) == sum(r["esc10"] == "True" for r in rows)
    assert len(load_clips(spec, esc10=False)) == len(rows) - len(esc10)
    classes = sorted({r["category"] for r in rows})[:2]
    chosen = load_clips(spec, classes=classes)
    assert {c.meta["category"] for c in chosen} == set(classes)
    assert len(chosen) == sum(r["category"] in classes for r in rows)
    both = load_clips(spec, classes=",".join(classes), folds=4)
    assert len(both) == sum(r["category"] in classes and r["fold"] == "4" for r in rows)


def test_bad_filters_are_clear_errors(spec) -> None:
    with pytest.raises(BenchError, match=r"unknown class.*unicorn"):
        load_clips(spec, classes=["unicorn"])
    with pytest.raises(BenchError, match="no filter speakers"):
        load_clips(spec, speakers=["19"])
    with pytest.raises(BenchError, match="fold must be an integer"):
        load_clips(spec, folds=["one"])
    with pytest.raises(BenchError, match="no clips"):
        load_clips(spec, folds=[9])


def test_limit_spreads_over_classes_deterministically(spec, rows) -> None:
    five = load_clips(spec, limit=5)
    assert len({c.meta["category"] for c in five}) == 5
    assert [c.meta["category"] for c in five] == sorted({r["category"] for r in rows})[:5]
    assert five == load_clips(spec, limit=5)
    n_classes = len({r["category"] for r in rows})
    more = load_clips(spec, limit=n_classes + 3)
    counts = Counter(c.meta["category"] for c in more)
    assert len(counts) == n_classes and max(counts.values()) == 2
    with pytest.raises(BenchError, match="positive integer"):
        load_clips(spec, limit=0)


def test_upstream_archive_parent_works_as_is(tmp_path: Path, esc50_dir: Path, rows) -> None:
    """<root>/ESC-50-master/ (the extracted GitHub archive) is found from <root>."""
    master = tmp_path / "ESC-50-master"
    master.mkdir()
    os.symlink(esc50_dir / "audio", master / "audio")
    os.symlink(esc50_dir / "meta", master / "meta")
    (spec,) = parse_datasets_arg(f"esc50={tmp_path}")
    assert spec.path == master
    assert len(load_clips(spec)) == len(rows)
    # and a bare name under the data root finds it in the downloader's layout
    (bare,) = parse_datasets_arg("esc50", data_root=tmp_path)
    assert bare.path == master


def test_not_an_esc50_folder(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="not an ESC-50 folder"):
        parse_datasets_arg(f"esc50={tmp_path}")
    with pytest.raises(BenchError, match="does not exist"):
        parse_datasets_arg(f"esc50={tmp_path / 'nope'}")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("name,label\n")
    (spec,) = parse_datasets_arg(f"esc50={tmp_path}")
    with pytest.raises(BenchError, match="missing column"):
        load_clips(spec)


def test_load_real_clip_and_missing_file(spec, tmp_path: Path, esc50_dir: Path) -> None:
    clip = next(c for c in load_clips(spec) if c.clip_id == "1-100032-A-0")
    audio = clip.load()
    assert (audio.rate, audio.channels, audio.frames) == (44100, 1, 5 * 44100)
    assert pickle.loads(pickle.dumps(clip)) == clip
    # a CSV row whose file is missing is still listed; load() names the file
    (tmp_path / "meta").mkdir()
    (tmp_path / "audio").mkdir()
    text = (esc50_dir / "meta" / "esc50.csv").read_text().splitlines()
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(text[:3]) + "\n")
    os.symlink(
        esc50_dir / "audio" / text[1].split(",")[0], tmp_path / "audio" / text[1].split(",")[0]
    )
    clips = load_clips(parse_datasets_arg(f"esc50={tmp_path}")[0])
    assert len(clips) == 2
    by_name = {c.meta["filename"]: c for c in clips}
    assert by_name[text[1].split(",")[0]].load().frames > 0
    missing = by_name[text[2].split(",")[0]]
    with pytest.raises(AudioError, match=rf"{missing.path}: no such file"):
        missing.load()
