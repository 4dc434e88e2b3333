"""LibriSpeech loader against the real subset in ../shared/data/librispeech-mini/LibriSpeech.

Expectations come from walking the files and parsing the .trans.txt files here in the test.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from bench.datasets import load_clips, parse_datasets_arg
from bench.errors import BenchError


def _files(root: Path) -> dict[str, Path]:
    """Utterance id -> file, from the upstream glob pattern."""
    return {p.stem: p for p in root.glob("*/*/*/*.flac")}


def _transcripts(root: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for trans in root.glob("*/*/*/*.trans.txt"):
        for line in trans.read_text().splitlines():
            if line.strip():
                utt, text = line.split(" ", 1)
                found[utt] = text.strip()
    return found


def test_root_counts_subsets_speakers_transcripts(librispeech_dir: Path) -> None:
    (spec,) = parse_datasets_arg(f"librispeech={librispeech_dir}")
    clips = load_clips(spec)
    files = _files(librispeech_dir)
    assert {c.clip_id for c in clips} == set(files)
    assert len(clips) == len(files)
    subsets = Counter(p.relative_to(librispeech_dir).parts[0] for p in files.values())
    assert Counter(c.meta["subset"] for c in clips) == subsets
    speakers = {p.relative_to(librispeech_dir).parts[1] for p in files.values()}
    assert {c.meta["speaker"] for c in clips} == speakers
    transcripts = _transcripts(librispeech_dir)
    assert transcripts, "the test corpus should hold some transcripts"
    for clip in clips:
        subset, speaker, chapter, _ = files[clip.clip_id].relative_to(librispeech_dir).parts
        assert (clip.meta["subset"], clip.meta["speaker"], clip.meta["chapter"]) == (
            subset,
            speaker,
            chapter,
        )
        assert clip.clip_id.startswith(f"{speaker}-{chapter}-")
        assert clip.meta["transcript"] == transcripts.get(clip.clip_id)
        assert clip.domain == "speech"
        assert clip.path == files[clip.clip_id]
    assert sum(c.meta["transcript"] is not None for c in clips) == len(
        set(transcripts) & set(files)
    )


def test_sex_from_speakers_txt(librispeech_dir: Path) -> None:
    sexes = {}
    for line in (librispeech_dir / "SPEAKERS.TXT").read_text().splitlines():
        fields = [f.strip() for f in line.split("|")]
        if not line.startswith(";") and len(fields) > 1:
            sexes[fields[0]] = fields[1]
    clips = load_clips(parse_datasets_arg(f"librispeech={librispeech_dir}")[0])
    assert all(c.meta["sex"] == sexes.get(c.meta["speaker"]) for c in clips)
    assert {c.meta["sex"] for c in clips} <= {"F", "M"}


@pytest.mark.parametrize("subset", ["test-other", "test-clean"])
def test_one_subset_folder_and_subset_filter(librispeech_dir: Path, subset: str) -> None:
    expected = {k for k, p in _files(librispeech_dir).items() if p.parts[-4] == subset}
    (folder_spec,) = parse_datasets_arg(f"librispeech={librispeech_dir / subset}")
    assert {c.clip_id for c in load_clips(folder_spec)} == expected
    (root_spec,) = parse_datasets_arg(f"librispeech={librispeech_dir}")
    assert {c.clip_id for c in load_clips(root_spec, subsets=[subset])} == expected
    (option_spec,) = parse_datasets_arg(f"librispeech:{subset}={librispeech_dir}")
    assert {c.clip_id for c in load_clips(option_spec)} == expected


def test_parent_of_librispeech_and_bare_names(librispeech_dir: Path, tmp_path: Path) -> None:
    parent = librispeech_dir.parent
    (spec,) = parse_datasets_arg(f"librispeech={parent}")
    assert spec.path == librispeech_dir
    os.symlink(librispeech_dir, tmp_path / "LibriSpeech")
    (bare,) = parse_datasets_arg("librispeech", data_root=tmp_path)
    assert len(load_clips(bare)) == len(_files(librispeech_dir))
    (sub,) = parse_datasets_arg("librispeech:test-clean", data_root=tmp_path)
    assert {c.meta["subset"] for c in load_clips(sub)} == {"test-clean"}
    with pytest.raises(BenchError, match=r"librispeech:dev-other: not found.*bench download"):
        parse_datasets_arg("librispeech:dev-other", data_root=tmp_path)


def test_limit_spreads_over_speakers(librispeech_dir: Path) -> None:
    (spec,) = parse_datasets_arg(f"librispeech={librispeech_dir}")
    speakers = {p.relative_to(librispeech_dir).parts[1] for p in _files(librispeech_dir).values()}
    clips = load_clips(spec, limit=len(speakers))
    assert len({c.meta["speaker"] for c in clips}) == len(speakers)
    five = load_clips(spec, limit=5)
    assert len({c.meta["speaker"] for c in five}) == 5
    assert five == load_clips(spec, limit=5)


def test_speaker_filter_and_errors(librispeech_dir: Path) -> None:
    (spec,) = parse_datasets_arg(f"librispeech={librispeech_dir}")
    files = _files(librispeech_dir)
    speaker = sorted({p.parts[-3] for p in files.values()})[0]
    chosen = load_clips(spec, speakers=speaker)
    assert {c.meta["speaker"] for c in chosen} == {speaker}
    assert len(chosen) == sum(p.parts[-3] == speaker for p in files.values())
    with pytest.raises(BenchError, match=r"subset.*train-other-500.*not in"):
        load_clips(spec, subsets="train-other-500")
    with pytest.raises(BenchError, match="unknown subset"):
        parse_datasets_arg(f"librispeech:test-dirty={librispeech_dir}")


def test_load_real_utterance(librispeech_dir: Path) -> None:
    (spec,) = parse_datasets_arg(f"librispeech={librispeech_dir}")
    clip = load_clips(spec, limit=1)[0]
    audio = clip.load()
    assert audio.rate == 16000 and audio.channels == 1 and audio.duration > 1.0
