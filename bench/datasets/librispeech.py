"""LibriSpeech in its upstream layout.

``LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with one
``<speaker>-<chapter>.trans.txt`` per chapter (``<utt-id> <TRANSCRIPT>`` per line). The path may
be the ``LibriSpeech/`` root (every subset in it), one subset folder, or the folder holding
``LibriSpeech/``. Transcripts are joined when the chapter's ``.trans.txt`` has the utterance's
line; otherwise the transcript is ``None``. ``SPEAKERS.TXT``, when present, adds the reader's sex.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from bench.datasets.base import DatasetKind, DatasetSpec, as_list, natural_key, register_dataset
from bench.datasets.clip import Clip, Meta
from bench.errors import BenchError

#: The subsets OpenSLR publishes (resources/12).
SUBSETS = (
    "dev-clean",
    "dev-other",
    "test-clean",
    "test-other",
    "train-clean-100",
    "train-clean-360",
    "train-other-500",
)
#: Subset downloaded when none is named (the clean test set: 346 MB, 5.4 h, 40 speakers).
DEFAULT_SUBSET = "test-clean"
FOLDER = "LibriSpeech"
AUDIO_EXT = ".flac"
_UTTERANCE = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def _numeric_dirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir() and p.name.isdigit()]
    except OSError:
        return []


def _is_subset(path: Path) -> bool:
    """A subset folder: named like one, or holding ``<speaker>/<chapter>/`` numeric folders."""
    if not path.is_dir():
        return False
    if path.name in SUBSETS:
        return True
    return any(_numeric_dirs(speaker) for speaker in _numeric_dirs(path))


def _subsets_in(root: Path) -> list[Path]:
    try:
        children = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return []
    return sorted((p for p in children if _is_subset(p)), key=lambda p: natural_key(p.name))


def read_transcripts(chapter_dir: Path) -> dict[str, str]:
    """Utterance id -> transcript from every ``*.trans.txt`` in ``chapter_dir``."""
    transcripts: dict[str, str] = {}
    for trans in sorted(chapter_dir.glob("*.trans.txt")):
        try:
            text = trans.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # an unreadable transcript leaves the transcripts None, it is not fatal
        for line in text.splitlines():
            utt, _, words = line.strip().partition(" ")
            if utt and words.strip():
                transcripts[utt] = words.strip()
    return transcripts


def read_speakers(root: Path) -> dict[str, str]:
    """Speaker id -> sex (``F``/``M``) from ``SPEAKERS.TXT`` (``;`` comments, ``|`` columns)."""
    speakers: dict[str, str] = {}
    try:
        text = (root / "SPEAKERS.TXT").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return speakers
    for line in text.splitlines():
        if line.startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 2 and fields[0].isdigit() and fields[1] in ("F", "M"):
            speakers[fields[0]] = fields[1]
    return speakers


@register_dataset
class LibriSpeech(DatasetKind):
    """LibriSpeech read English speech, 16 kHz FLAC, by subset/speaker/chapter."""

    name = "librispeech"
    description = "LibriSpeech read speech (<subset>/<speaker>/<chapter>/*.flac), 16 kHz mono"
    filters: ClassVar[dict[str, str]] = {
        "subsets": f"keep these subsets ({', '.join(SUBSETS)})",
        "speakers": "keep these speaker ids",
    }
    option_help = "a subset, e.g. librispeech:test-clean"

    def check_option(self, option: str | None) -> str | None:
        if option is not None and option not in SUBSETS:
            raise BenchError(f"librispeech: unknown subset {option!r}; valid: {', '.join(SUBSETS)}")
        return option

    def default_paths(self, data_root: Path, option: str | None) -> list[Path]:
        roots = [data_root / FOLDER, data_root / "librispeech"]
        return [r / option for r in roots] if option else roots

    def download_hint(self, data_root: Path, option: str | None) -> str:
        return f"python -m bench download librispeech:{option or DEFAULT_SUBSET} " + (
            f"--data-root {data_root}"
        )

    def resolve(self, path: Path) -> Path:
        if (path / FOLDER).is_dir():
            path = path / FOLDER
        if _is_subset(path) or _subsets_in(path):
            return path
        if not path.exists():
            raise BenchError(f"librispeech: {path} does not exist")
        raise BenchError(
            f"librispeech: {path} is not a LibriSpeech folder (expected LibriSpeech/, a subset "
            "such as test-clean/, or <speaker>/<chapter>/*.flac inside)"
        )

    def list_clips(self, spec: DatasetSpec, filters: Mapping[str, Any]) -> list[Clip]:
        root = spec.path
        assert root is not None
        if _is_subset(root) and not _subsets_in(root):
            subset_dirs = [root]
            corpus_root = root.parent
        else:
            subset_dirs = _subsets_in(root)
            corpus_root = root
        wanted_subsets = (
            {str(s) for s in as_list(filters["subsets"])}
            if (filters.get("subsets") is not None)
            else None
        )
        if spec.option is not None:
            wanted_subsets = (wanted_subsets or {spec.option}) & {spec.option}
        if wanted_subsets is not None:
            present = {d.name for d in subset_dirs}
            unknown = sorted(wanted_subsets - present)
            if unknown:
                raise BenchError(
                    f"librispeech: subset(s) {', '.join(unknown)} not in {root}; present: "
                    f"{', '.join(sorted(present)) or 'none'}"
                )
            subset_dirs = [d for d in subset_dirs if d.name in wanted_subsets]
        speakers = (
            {str(s).strip() for s in as_list(filters["speakers"])}
            if filters.get("speakers") is not None
            else None
        )
        sexes = read_speakers(corpus_root)
        clips: list[Clip] = []
        for subset_dir in subset_dirs:
            clips.extend(self._list_subset(spec, subset_dir, speakers, sexes))
        # Utterance ids are unique across the corpus; if a copy breaks that, keep both clips
        # apart by prefixing the subset rather than silently dropping one.
        counts: dict[str, int] = {}
        for clip in clips:
            counts[clip.clip_id] = counts.get(clip.clip_id, 0) + 1
        if any(n > 1 for n in counts.values()):
            from dataclasses import replace

            clips = [
                replace(c, clip_id=f"{c.meta['subset']}/{c.clip_id}")
                if counts[c.clip_id] > 1
                else c
                for c in clips
            ]
        return clips

    def _list_subset(
        self,
        spec: DatasetSpec,
        subset_dir: Path,
        speakers: set[str] | None,
        sexes: dict[str, str],
    ) -> list[Clip]:
        clips: list[Clip] = []
        for speaker_dir in sorted(_numeric_dirs(subset_dir), key=lambda p: int(p.name)):
            if speakers is not None and speaker_dir.name not in speakers:
                continue
            for chapter_dir in sorted(_numeric_dirs(speaker_dir), key=lambda p: int(p.name)):
                try:
                    names = sorted(
                        e.name
                        for e in os.scandir(chapter_dir)
                        if e.name.endswith(AUDIO_EXT) and not e.name.startswith(".")
                    )
                except OSError:
                    continue
                if not names:
                    continue
                transcripts = read_transcripts(chapter_dir)
                for name in sorted(names, key=natural_key):
                    utt = name[: -len(AUDIO_EXT)]
                    match = _UTTERANCE.match(utt)
                    meta = Meta(
                        subset=subset_dir.name,
                        speaker=speaker_dir.name,
                        chapter=chapter_dir.name,
                        utterance=match.group(3) if match else None,
                        sex=sexes.get(speaker_dir.name),
                        transcript=transcripts.get(utt),
                    )
                    clips.append(
                        Clip(
                            dataset=spec.name,
                            clip_id=utt,
                            domain="speech",
                            path=chapter_dir / name,
                            meta=meta,
                            kind=self.name,
                        )
                    )
        return clips

    def group_key(self, clip: Clip) -> str:
        return str(clip.meta.get("speaker") or "")
