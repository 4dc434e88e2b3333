"""ESC-50 in its upstream layout: ``audio/*.wav`` and ``meta/esc50.csv``.

The CSV is authoritative: one clip per row, with the fold, class (``category``), ESC-10 flag,
Freesound source id and take. Audio files that no row names are ignored; a row whose file is
missing is still listed and fails in :meth:`Clip.load`. The path may be the folder holding
``audio/`` and ``meta/``, or the folder the upstream archive was extracted into (holding
``ESC-50-master/`` or ``ESC-50-<commit>/``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from bench.datasets.base import DatasetKind, DatasetSpec, as_list, natural_key, register_dataset
from bench.datasets.clip import Clip, Meta
from bench.errors import BenchError

#: Columns of the upstream ``meta/esc50.csv``.
COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
#: Folder name the downloader gives the extracted archive (the name GitHub's branch zip uses).
FOLDER = "ESC-50-master"
CSV_PATH = Path("meta") / "esc50.csv"


def _is_root(path: Path) -> bool:
    return (path / CSV_PATH).is_file()


def _to_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    return None


def _to_int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def read_rows(root: Path) -> list[dict[str, str]]:
    """The rows of ``meta/esc50.csv``; :class:`BenchError` if the header is not ESC-50's."""
    csv_file = root / CSV_PATH
    try:
        with open(csv_file, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = tuple(name.strip() for name in reader.fieldnames or ())
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise BenchError(
                    f"{csv_file}: not an ESC-50 metadata file (missing column(s) "
                    f"{', '.join(missing)}; expected {','.join(COLUMNS)})"
                )
            return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchError(f"{csv_file}: cannot read ESC-50 metadata ({exc})") from None


@register_dataset
class ESC50(DatasetKind):
    """ESC-50: 2,000 five-second environmental recordings, 50 classes, 5 folds (44.1 kHz)."""

    name = "esc50"
    description = "ESC-50 environmental sounds (audio/*.wav + meta/esc50.csv), 44.1 kHz mono"
    filters: ClassVar[dict[str, str]] = {
        "folds": "keep these folds (1-5)",
        "classes": "keep these class names (the CSV's 'category', e.g. dog,rain)",
        "esc10": "True: only the ESC-10 subset; False: only clips outside it",
    }

    def default_paths(self, data_root: Path, option: str | None) -> list[Path]:
        return [data_root / FOLDER, data_root / "esc50", data_root / "ESC-50"]

    def download_hint(self, data_root: Path, option: str | None) -> str:
        return f"python -m bench download esc50 --data-root {data_root}"

    def resolve(self, path: Path) -> Path:
        if _is_root(path):
            return path
        if (path / FOLDER).is_dir() and _is_root(path / FOLDER):
            return path / FOLDER
        if path.is_dir():
            # a commit archive extracts to ESC-50-<sha>/
            found = sorted(p for p in path.glob("ESC-50-*") if p.is_dir() and _is_root(p))
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                names = ", ".join(p.name for p in found)
                raise BenchError(f"esc50: {path} holds several ESC-50 copies ({names}); pick one")
        if not path.exists():
            raise BenchError(f"esc50: {path} does not exist")
        raise BenchError(
            f"esc50: {path} is not an ESC-50 folder (expected audio/ and {CSV_PATH}, "
            f"or an extracted {FOLDER}/ inside)"
        )

    def list_clips(self, spec: DatasetSpec, filters: Mapping[str, Any]) -> list[Clip]:
        root = spec.path
        assert root is not None
        rows = read_rows(root)
        folds = self._folds(filters.get("folds"))
        classes = self._classes(filters.get("classes"), rows)
        esc10 = filters.get("esc10")
        if esc10 is not None and not isinstance(esc10, bool):
            parsed = _to_bool(str(esc10))
            if parsed is None:
                raise BenchError(f"esc50: esc10 filter must be true or false, got {esc10!r}")
            esc10 = parsed
        clips: list[Clip] = []
        seen: set[str] = set()
        for row in rows:
            filename = row.get("filename", "")
            if not filename or Path(filename).name != filename:
                continue  # an empty or path-like name cannot be an upstream clip
            clip_id = Path(filename).stem
            if clip_id in seen:
                continue
            seen.add(clip_id)
            fold = _to_int(row.get("fold", ""))
            flag = _to_bool(row.get("esc10", ""))
            if folds is not None and fold not in folds:
                continue
            if classes is not None and row.get("category") not in classes:
                continue
            if esc10 is not None and flag is not esc10:
                continue
            meta = Meta(
                filename=filename,
                fold=fold,
                target=_to_int(row.get("target", "")),
                category=row.get("category") or None,
                esc10=flag,
                src_file=row.get("src_file") or None,
                take=row.get("take") or None,
            )
            clips.append(
                Clip(
                    dataset=spec.name,
                    clip_id=clip_id,
                    domain="audio",
                    path=root / "audio" / filename,
                    meta=meta,
                    kind=self.name,
                )
            )
        clips.sort(key=lambda c: natural_key(c.clip_id))
        return clips

    def group_key(self, clip: Clip) -> str:
        return str(clip.meta.get("category") or "")

    @staticmethod
    def _folds(value: Any) -> set[int] | None:
        if value is None:
            return None
        folds: set[int] = set()
        for item in as_list(value):
            fold = item if isinstance(item, int) and not isinstance(item, bool) else None
            if fold is None:
                fold = _to_int(str(item))
            if fold is None:
                raise BenchError(f"esc50: fold must be an integer, got {item!r}")
            folds.add(fold)
        return folds

    @staticmethod
    def _classes(value: Any, rows: list[dict[str, str]]) -> set[str] | None:
        if value is None:
            return None
        wanted = {str(item).strip() for item in as_list(value)}
        known = {row.get("category", "") for row in rows}
        unknown = sorted(wanted - known)
        if unknown:
            raise BenchError(
                f"esc50: unknown class(es) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(k for k in known if k))}"
            )
        return wanted
