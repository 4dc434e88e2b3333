"""``--datasets`` parsing, the fallback to the demo set and the shared command-line options."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import pytest

from bench.datasets import (
    DATASETS,
    DatasetSpec,
    add_dataset_arguments,
    clips_from_args,
    default_datasets,
    load_clips,
    parse_datasets_arg,
)
from bench.errors import BenchError, UnknownNameError


@pytest.fixture()
def data_root(tmp_path: Path, esc50_dir: Path, librispeech_dir: Path) -> Path:
    """A data root in the downloader's layout, pointing at the real test corpora."""
    os.symlink(esc50_dir, tmp_path / "ESC-50-master")
    os.symlink(librispeech_dir, tmp_path / "LibriSpeech")
    return tmp_path


def test_registry_holds_the_four_kinds() -> None:
    assert {"esc50", "librispeech", "demo", "folder"} <= set(DATASETS)


def test_parse_full_syntax(esc50_dir: Path, librispeech_dir: Path, tmp_path: Path) -> None:
    text = f" esc50={esc50_dir} , librispeech={librispeech_dir},demo,folder:speech={tmp_path}"
    specs = parse_datasets_arg(text, data_root=tmp_path / "unused")
    assert specs == [
        DatasetSpec("esc50", "esc50", esc50_dir),
        DatasetSpec("librispeech", "librispeech", librispeech_dir),
        DatasetSpec("demo", "demo", None),
        DatasetSpec("folder", "folder", tmp_path, "speech"),
    ]
    assert str(specs[3]) == f"folder:speech={tmp_path}"


def test_bare_names_look_under_data_root(data_root: Path) -> None:
    specs = parse_datasets_arg("esc50,librispeech", data_root=data_root)
    assert [s.path for s in specs] == [data_root / "ESC-50-master", data_root / "LibriSpeech"]


def test_missing_dataset_says_how_to_download(tmp_path: Path) -> None:
    with pytest.raises(BenchError) as info:
        parse_datasets_arg("esc50", data_root=tmp_path)
    message = str(info.value)
    assert f"python -m bench download esc50 --data-root {tmp_path}" in message
    assert "esc50=PATH" in message
    with pytest.raises(BenchError, match="librispeech:test-clean"):
        parse_datasets_arg("librispeech", data_root=tmp_path)


def test_parse_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown dataset 'timit'; valid: demo, esc50"):
        parse_datasets_arg("timit", tmp_path)
    with pytest.raises(BenchError, match="no dataset named"):
        parse_datasets_arg(" , ", tmp_path)
    with pytest.raises(BenchError, match="takes no path"):
        parse_datasets_arg(f"demo={tmp_path}", tmp_path)
    with pytest.raises(BenchError, match="empty path"):
        parse_datasets_arg("esc50=", tmp_path)
    with pytest.raises(BenchError, match="takes no ':x' option"):
        parse_datasets_arg("demo:x", tmp_path)


def test_same_kind_twice_gets_distinct_names(tmp_path: Path, data_root: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    specs = parse_datasets_arg(f"folder={tmp_path / 'a'},folder={tmp_path / 'b'}", tmp_path)
    assert [s.name for s in specs] == ["folder:a", "folder:b"]
    subsets = parse_datasets_arg("librispeech:test-clean,librispeech:test-other", data_root)
    assert [s.name for s in subsets] == ["librispeech:test-clean", "librispeech:test-other"]
    assert parse_datasets_arg("demo,demo", tmp_path) == [DatasetSpec("demo", "demo", None)]


def test_default_datasets_finds_corpora(data_root: Path) -> None:
    stream = io.StringIO()
    specs = default_datasets(data_root, stream=stream)
    assert [s.kind for s in specs] == ["esc50", "librispeech"]
    assert stream.getvalue() == ""


def test_default_datasets_falls_back_to_demo_with_a_hint(tmp_path: Path) -> None:
    stream = io.StringIO()
    specs = default_datasets(tmp_path, stream=stream)
    assert specs == [DatasetSpec("demo", "demo", None)]
    hint = stream.getvalue()
    assert "SYNTHETIC" in hint
    assert f"python -m bench download esc50 --data-root {tmp_path}" in hint
    assert "librispeech:test-clean" in hint
    assert all(c.synthetic for c in load_clips(specs[0]))


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_dataset_arguments(parser)
    return parser.parse_args(list(argv))


def test_clips_from_args(data_root: Path, esc50_dir: Path) -> None:
    args = _args("--data-root", str(data_root), "--limit", "4", "--folds", "1,2,3")
    clips = clips_from_args(args, stream=io.StringIO())
    esc = [c for c in clips if c.dataset == "esc50"]
    speech = [c for c in clips if c.dataset == "librispeech"]
    assert len(esc) == 4 and {c.meta["fold"] for c in esc} <= {1, 2, 3}
    assert len(speech) == 4 and len({c.meta["speaker"] for c in speech}) == 4
    seeded = clips_from_args(
        _args("--datasets", f"esc50={esc50_dir}", "--protocol", "seed", "--max-seconds", "2",
              "--esc10", "--limit", "2"),
    )  # fmt: skip
    assert all(c.protocol == "seed" and c.meta["esc10"] is True for c in seeded)
    assert all(c.max_seconds == 2.0 for c in seeded)


def test_clips_from_args_refuses_filters_nothing_uses(esc50_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="--speakers"):
        clips_from_args(_args("--datasets", f"esc50={esc50_dir}", "--speakers", "19"))
    stream = io.StringIO()
    demo = clips_from_args(_args("--data-root", str(tmp_path)), stream=stream)
    assert demo and all(c.synthetic for c in demo)
    assert "python -m bench download" in stream.getvalue()
    with pytest.raises(SystemExit):
        _args("--limit", "0")
    with pytest.raises(SystemExit):
        _args("--max-seconds", "-1")
