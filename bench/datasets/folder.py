"""``folder=PATH``: any folder of audio files (searched recursively), for the user's own material.

The clip id is the file's path relative to the folder (POSIX separators). Files are chosen by
extension only, so listing stays fast and a corrupt file, a text file named ``.wav``, a stereo or
48 kHz file, a 0.1-s or silent file are all listed; whatever is wrong with one surfaces when that
clip is loaded (or scored), never as a crash of the listing. Hidden files and folders (names
starting with ``.``) are skipped; symbolic links to files are followed, links to folders are not
(no loops).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.datasets.base import DatasetKind, DatasetSpec, natural_key, register_dataset
from bench.datasets.clip import DOMAINS, Clip, Meta
from bench.errors import BenchError

#: Extensions read as audio (soundfile or FFmpeg decode them), lower case.
AUDIO_EXTENSIONS = frozenset(
    {
        ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".mp4", ".aac",
        ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".wv", ".webm", ".mka",
        ".amr", ".ac3", ".wma", ".spx",
    }
)  # fmt: skip


def find_audio_files(root: Path) -> list[Path]:
    """Audio files under ``root`` (or ``root`` itself when it is a file), naturally sorted."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in AUDIO_EXTENSIONS:
                found.append(Path(folder) / name)
    return sorted(found, key=lambda p: natural_key(p.relative_to(root).as_posix()))


@register_dataset
class Folder(DatasetKind):
    """Every audio file under a folder; clip id = relative path."""

    name = "folder"
    description = "any folder of audio files, searched recursively (clip id = relative path)"
    option_help = "the content domain, folder:speech=PATH or folder:audio=PATH (default audio)"

    def check_option(self, option: str | None) -> str | None:
        if option is not None and option not in DOMAINS:
            raise BenchError(
                f"folder: unknown domain {option!r}; valid: {', '.join(DOMAINS)} "
                "(e.g. folder:speech=PATH)"
            )
        return option

    def resolve(self, path: Path) -> Path:
        if not path.exists():
            raise BenchError(f"folder: {path} does not exist")
        if path.is_file() and path.suffix.lower() not in AUDIO_EXTENSIONS:
            raise BenchError(f"folder: {path} is a file without an audio extension")
        return path

    def list_clips(self, spec: DatasetSpec, filters: Mapping[str, Any]) -> list[Clip]:
        root = spec.path
        assert root is not None
        domain = spec.option or "audio"
        clips = []
        for file in find_audio_files(root):
            relative = file.name if root.is_file() else file.relative_to(root).as_posix()
            parent = Path(relative).parent.as_posix()
            meta = Meta(
                relpath=relative,
                group="" if parent == "." else parent,
                format=file.suffix.lower().lstrip("."),
            )
            clips.append(
                Clip(
                    dataset=spec.name,
                    clip_id=relative,
                    domain=domain,
                    path=file,
                    meta=meta,
                    kind=self.name,
                )
            )
        return clips

    def group_key(self, clip: Clip) -> str:
        # spread --limit over sub-folders (often one folder per source or class)
        return str(clip.meta.get("group") or "")
