"""The dataset-kind interface and its registry.

A *kind* (``esc50``, ``librispeech``, ``demo``, ``folder``) knows one on-disk layout: where the
downloader puts it, how to recognise it, how to list its clips without opening audio files, how
to group clips for ``--limit`` and how to read one clip. Kinds are registered in
:data:`DATASETS` by the :func:`register_dataset` class decorator.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from bench.audio import Audio, load_audio
from bench.datasets.clip import Clip
from bench.errors import AudioError, BenchError
from bench.registry import Registry


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset named on the command line, resolved to its layout root.

    Attributes:
        name: the label clips carry as :attr:`Clip.dataset` (``esc50``, ``folder``, ...).
        kind: the dataset kind (a key of :data:`DATASETS`).
        path: the layout root the kind recognised (``None`` for the demo set).
        option: the ``KIND:OPTION`` part: a LibriSpeech subset, a ``folder`` domain.
    """

    name: str
    kind: str
    path: Path | None = None
    option: str | None = None

    def __str__(self) -> str:
        head = self.kind if self.option is None else f"{self.kind}:{self.option}"
        return head if self.path is None else f"{head}={self.path}"


class DatasetKind(ABC):
    """Base class of a dataset layout. Subclasses set the class attributes and list clips."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: False for kinds that need no folder (the generated demo set).
    needs_path: ClassVar[bool] = True
    #: Filter keyword -> one-line help; ``load_clips`` refuses any other keyword.
    filters: ClassVar[dict[str, str]] = {}
    #: What ``KIND:OPTION`` means for this kind (empty: options are refused).
    option_help: ClassVar[str] = ""

    # -- locating -----------------------------------------------------------------------------
    def default_paths(self, data_root: Path, option: str | None) -> list[Path]:
        """Candidate folders under ``data_root`` in the layout the downloader produces."""
        return []

    def download_hint(self, data_root: Path, option: str | None) -> str:
        """How to get this dataset, for the error raised when it is missing."""
        return ""

    def check_option(self, option: str | None) -> str | None:
        """Validate the ``KIND:OPTION`` part; the default refuses any option."""
        if option is not None:
            raise BenchError(f"dataset {self.name!r} takes no ':{option}' option")
        return None

    def resolve(self, path: Path) -> Path:
        """The layout root at or inside ``path``; :class:`BenchError` if ``path`` is not one."""
        if not path.exists():
            raise BenchError(f"{self.name}: {path} does not exist")
        return path

    # -- listing ------------------------------------------------------------------------------
    @abstractmethod
    def list_clips(self, spec: DatasetSpec, filters: Mapping[str, Any]) -> list[Clip]:
        """Every clip of ``spec`` that passes ``filters``, in a stable order.

        Must not open audio files: a corrupt file is listed like any other and fails in
        :meth:`Clip.load`.
        """

    def normalise_filters(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        """Check filter names (values are checked by :meth:`list_clips`)."""
        unknown = sorted(set(filters) - set(self.filters))
        if unknown:
            valid = ", ".join(sorted(self.filters)) or "none"
            raise BenchError(
                f"dataset {self.name!r} has no filter {', '.join(unknown)}; valid: {valid}"
            )
        return {k: v for k, v in filters.items() if v is not None}

    def group_key(self, clip: Clip) -> str:
        """The group ``--limit`` spreads over (class, speaker, folder, ...)."""
        return ""

    # -- reading ------------------------------------------------------------------------------
    def read(self, clip: Clip) -> Audio:
        """The clip's audio as stored; errors are :class:`AudioError` naming the file."""
        if clip.path is None:
            raise AudioError(f"{clip.dataset}/{clip.clip_id}: clip has no file")
        return load_audio(clip.path)


K = TypeVar("K", bound=type)

#: Dataset kinds by name.
DATASETS: Registry[DatasetKind] = Registry("dataset")


def register_dataset(cls: K) -> K:
    """Class decorator: instantiate ``cls()`` and register it under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, DatasetKind)):
        raise TypeError("@register_dataset decorates a DatasetKind subclass")
    if not cls.name:
        raise TypeError(f"{cls.__name__} must set the class attribute 'name'")
    DATASETS.register(cls.name)(cls())
    return cls


# -- helpers shared by the kinds --------------------------------------------------------------
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders ``"2" < "10"`` (speaker ids, utterance numbers, file names)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(text))


def as_list(value: Any) -> list[Any]:
    """A filter value as a list: ``3`` -> ``[3]``, ``"1,2"`` -> ``["1", "2"]``."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (Sequence, set, frozenset)):
        return list(value)
    return [value]
