"""``distribution_version``: importlib.metadata.version's answers from one scan of the path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from bench.metrics import base
from bench.metrics.base import distribution_version


def _clear() -> None:
    base.distribution_version.cache_clear()
    base._metadata_dirs.cache_clear()


@pytest.fixture()
def fresh() -> Iterator[None]:
    _clear()
    yield
    _clear()


def _reference(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_every_installed_distribution(fresh: None) -> None:
    names = {d.metadata["Name"] for d in metadata.distributions()}
    assert len(names) > 20  # the venv's numpy, scipy, pandas, ... and the suite itself
    assert "namc-bench" in names  # an editable install
    fast = 0
    for name in sorted(names):
        for spelling in (name, name.upper(), name.replace("-", "_"), name.replace("-", ".")):
            assert distribution_version(spelling) == _reference(spelling), spelling
        fast += base._fast_version(name) is not None
    assert fast > len(names) // 2  # the scan answers (most of) them itself


def test_missing_distribution(fresh: None) -> None:
    assert distribution_version("no-such-distribution-xyz") is None
    assert base._fast_version("no-such-distribution-xyz") is None


def _dist(root: Path, folder: str, metadata_text: str, file: str = "METADATA") -> None:
    (root / folder).mkdir(parents=True)
    (root / folder / file).write_text(metadata_text, encoding="utf-8")


def test_unusual_layouts_match_importlib(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    # The folder's version is not the one the metadata says: the metadata wins.
    _dist(
        first, "Odd_Name-1.0.dist-info", "Metadata-Version: 2.1\nName: odd-name\nVersion: 1.0rc1\n"
    )
    # Shadowed by an earlier path entry.
    _dist(first, "shadow-2.0.dist-info", "Name: shadow\nVersion: 2.0\n")
    _dist(second, "shadow-1.0.dist-info", "Name: shadow\nVersion: 1.0\n")
    # Two in one entry (the listing's order decides): left to importlib.metadata.
    _dist(second, "twice-1.0.dist-info", "Name: twice\nVersion: 1.0\n")
    _dist(second, "twice-2.0.dist-info", "Name: twice\nVersion: 2.0\n")
    # An old egg-info folder with PKG-INFO, a folded header, a case-changed header name,
    # no Version header, a Version after the header block's end.
    _dist(second, "legacy-0.5.egg-info", "Name: legacy\nVersion: 0.5\n", file="PKG-INFO")
    _dist(second, "folded-1.dist-info", "Name: folded\nVersion: 1.0\n  .post1\n")
    _dist(second, "cased-3.dist-info", "Name: cased\nVERSION:   3.1 \n")
    _dist(second, "nover-1.dist-info", "Name: nover\n")
    _dist(second, "late-1.dist-info", "Name: late\n\nVersion: 9\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second), *sys.path])
    for name in ("odd-name", "odd.name", "shadow", "twice", "legacy", "folded", "cased",
                 "nover", "late"):  # fmt: skip
        _clear()
        assert distribution_version(name) == _reference(name), name
    assert distribution_version("odd-name") == "1.0rc1"
    assert distribution_version("shadow") == "2.0"
    # Answered by the scan itself, or left to importlib.metadata where it would guess.
    _clear()
    scanned = {n: base._fast_version(n) for n in ("odd-name", "shadow", "legacy", "cased")}
    assert scanned == {"odd-name": "1.0rc1", "shadow": "2.0", "legacy": "0.5", "cased": "3.1 "}
    assert [base._fast_version(n) for n in ("twice", "folded", "nover", "late")] == [None] * 4


def test_a_zip_on_the_path_leaves_everything_to_importlib(
    fresh: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "lib.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    monkeypatch.setattr(sys, "path", [str(archive), *sys.path])
    assert base._metadata_dirs() is None
    assert distribution_version("numpy") == _reference("numpy")
