"""Datasets: ESC-50, LibriSpeech, any folder of audio, and the built-in synthetic demo set.

The runner's path through this package::

    specs = parse_datasets_arg("esc50,librispeech=/data/LibriSpeech", data_root=Path("datasets"))
    clips = [c for s in specs for c in load_clips(s, limit=20, protocol="native")]
    audio = clips[0].load()       # AudioError naming the file if it is unreadable

or, with the command-line options added by :func:`add_dataset_arguments`::

    clips = clips_from_args(args)  # demo set + download hint when no corpus exists

:func:`load_clips` returns a plain ``list[Clip]``. Listing never opens audio files; each clip's
problems surface in :meth:`Clip.load`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from bench.argtypes import positive_float, positive_int

# Built-in kinds register themselves on import (all cheap: no audio library is imported).
from bench.datasets import demo as _demo  # noqa: F401
from bench.datasets import esc50 as _esc50  # noqa: F401
from bench.datasets import folder as _folder  # noqa: F401
from bench.datasets import librispeech as _librispeech  # noqa: F401
from bench.datasets.base import (
    DATASETS,
    DatasetKind,
    DatasetSpec,
    natural_key,
    register_dataset,
)
from bench.datasets.clip import PROTOCOLS, SEED_FRAMES, SEED_RATE, Clip, Meta, get_protocol
from bench.errors import BenchError

__all__ = [
    "DATASETS",
    "DEFAULT_DATA_ROOT",
    "PROTOCOLS",
    "SEED_FRAMES",
    "SEED_RATE",
    "Clip",
    "DatasetKind",
    "DatasetSpec",
    "Meta",
    "add_dataset_arguments",
    "clips_from_args",
    "default_datasets",
    "get_kind",
    "load_clips",
    "parse_datasets_arg",
    "register_dataset",
]

#: Where bare dataset names are looked up and downloads go, relative to the working folder.
DEFAULT_DATA_ROOT = Path("datasets")

#: Corpora :func:`default_datasets` looks for, in this order.
DEFAULT_CORPORA = ("esc50", "librispeech")


def get_kind(name: str) -> DatasetKind:
    """The dataset kind ``name``; unknown names raise an error listing the valid ones."""
    return DATASETS.get_one(name)


# -- --datasets -------------------------------------------------------------------------------
def _locate(kind: DatasetKind, option: str | None, data_root: Path) -> Path:
    """The layout root of a bare name under ``data_root``, or a BenchError that says how to
    download it."""
    candidates = kind.default_paths(data_root, option)
    for candidate in candidates:
        if candidate.exists():
            try:
                return kind.resolve(candidate)
            except BenchError:
                continue
    looked = ", ".join(str(c) for c in candidates) or str(data_root)
    head = kind.name if option is None else f"{kind.name}:{option}"
    hint = kind.download_hint(data_root, option)
    how = f"download it with `{hint}` or " if hint else ""
    raise BenchError(f"{head}: not found (looked in {looked}); {how}give {kind.name}=PATH")


def parse_datasets_arg(text: str, data_root: Path = DEFAULT_DATA_ROOT) -> list[DatasetSpec]:
    """Parse ``--datasets``: comma-separated ``KIND[:OPTION][=PATH]`` items.

    ``esc50=PATH``, ``librispeech=PATH`` (root or one subset), ``librispeech:test-clean``,
    ``folder=PATH``, ``folder:speech=PATH``, ``demo``. A bare name is looked up under
    ``data_root`` in the layout ``python -m bench download`` produces; a missing dataset is a
    :class:`BenchError` that says how to download it. Paths may not contain commas.

    The clips' dataset name is the kind (``esc50``); when the same kind is named twice with
    different options or paths, each gets ``KIND:OPTION`` or ``KIND:<folder name>`` so clip
    ids stay unique.
    """
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    if not items:
        raise BenchError("no dataset named; e.g. --datasets esc50,librispeech or --datasets demo")
    data_root = Path(data_root).expanduser()
    specs: list[DatasetSpec] = []
    for item in items:
        head, has_path, raw_path = item.partition("=")
        kind_name, has_option, option_text = head.strip().partition(":")
        kind = get_kind(kind_name.strip().lower())
        option = kind.check_option(option_text.strip() if has_option else None)
        if has_path:
            if not raw_path.strip():
                raise BenchError(f"{item!r}: empty path after '='")
            if not kind.needs_path:
                raise BenchError(f"{kind.name} is built in and takes no path")
            path: Path | None = kind.resolve(Path(raw_path.strip()).expanduser())
        elif kind.needs_path:
            if kind.name == "folder":
                raise BenchError("folder needs a path: --datasets folder=PATH")
            path = _locate(kind, option, data_root)
        else:
            path = None
        spec = DatasetSpec(name=kind.name, kind=kind.name, path=path, option=option)
        if spec not in specs:
            specs.append(spec)
    return _unique_names(specs)


def _unique_names(specs: list[DatasetSpec]) -> list[DatasetSpec]:
    by_name: dict[str, list[DatasetSpec]] = {}
    for spec in specs:
        by_name.setdefault(spec.name, []).append(spec)
    renamed: dict[DatasetSpec, str] = {}
    for name, group in by_name.items():
        if len(group) < 2:
            continue
        for spec in group:
            if len({s.option for s in group}) == len(group) and spec.option:
                renamed[spec] = f"{name}:{spec.option}"
            else:
                label = spec.path.name if spec.path is not None else "default"
                renamed[spec] = f"{name}:{label}" + (f":{spec.option}" if spec.option else "")
    result = [replace(s, name=renamed.get(s, s.name)) for s in specs]
    names = [s.name for s in result]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BenchError(f"datasets {', '.join(duplicates)} named twice; give distinct folders")
    return result


# -- listing ----------------------------------------------------------------------------------
def _round_robin(clips: list[Clip], kind: DatasetKind, limit: int) -> list[Clip]:
    """First ``limit`` clips taking one from each group in turn (groups sorted naturally)."""
    groups: dict[str, list[Clip]] = {}
    for clip in clips:
        groups.setdefault(kind.group_key(clip), []).append(clip)
    queues = [groups[key] for key in sorted(groups, key=natural_key)]
    chosen: list[Clip] = []
    depth = 0
    while len(chosen) < limit and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue):
                chosen.append(queue[depth])
                if len(chosen) == limit:
                    break
        depth += 1
    return chosen


def load_clips(
    spec: DatasetSpec | str,
    *,
    limit: int | None = None,
    max_seconds: float | None = None,
    protocol: str = "native",
    data_root: Path = DEFAULT_DATA_ROOT,
    **filters: Any,
) -> list[Clip]:
    """The clips of one dataset, as a list (listing opens no audio file).

    Args:
        spec: a :class:`DatasetSpec` (from :func:`parse_datasets_arg`) or one ``--datasets``
            item such as ``"esc50=/data/ESC-50-master"`` (bare names use ``data_root``).
        limit: keep at most this many clips, chosen deterministically round-robin over the
            kind's sorted groups (ESC-50 classes, LibriSpeech speakers, sub-folders), so
            ``limit=5`` on ESC-50 gives five different classes.
        max_seconds: :meth:`Clip.load` keeps the first ``max_seconds`` seconds of longer clips
            (one clip per file, not split into segments).
        protocol: ``"native"`` (default) or ``"seed"`` (the original note's preparation).
        filters: kind-specific: ESC-50 ``folds``, ``classes``, ``esc10``; LibriSpeech
            ``subsets``, ``speakers``. Values may be a scalar, a list or ``"a,b"``.

    Raises :class:`BenchError` for an unknown filter or class, a bad limit, or when nothing is
    left after filtering.
    """
    if isinstance(spec, str):
        parsed = parse_datasets_arg(spec, data_root)
        if len(parsed) != 1:
            raise BenchError(f"load_clips takes one dataset, got {spec!r}")
        spec = parsed[0]
    kind = get_kind(spec.kind)
    get_protocol(protocol)
    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise BenchError(f"--limit must be a positive integer, got {limit!r}")
    if max_seconds is not None and not float(max_seconds) > 0:
        raise BenchError(f"--max-seconds must be positive, got {max_seconds!r}")
    active = kind.normalise_filters(filters)
    clips = kind.list_clips(spec, active)
    if not clips:
        detail = f" matching {active}" if active else ""
        raise BenchError(f"{spec}: no clips{detail}")
    if limit is not None:
        clips = _round_robin(clips, kind, int(limit))
    if protocol != "native" or max_seconds is not None:
        clips = [replace(c, protocol=protocol, max_seconds=max_seconds) for c in clips]
    return clips


def default_datasets(
    data_root: Path = DEFAULT_DATA_ROOT, *, stream: TextIO | None = None
) -> list[DatasetSpec]:
    """The real corpora found under ``data_root``; if there are none, the demo set.

    In the demo case a hint on how to get the real corpora is printed to ``stream`` (default
    stderr), and the returned spec is the synthetic demo set.
    """
    data_root = Path(data_root).expanduser()
    found: list[DatasetSpec] = []
    for name in DEFAULT_CORPORA:
        kind = get_kind(name)
        try:
            found.append(DatasetSpec(name, name, _locate(kind, None, data_root)))
        except BenchError:
            continue
    if found:
        return found
    print(demo_hint(data_root), file=stream if stream is not None else sys.stderr)
    return [DatasetSpec("demo", "demo", None)]


def demo_hint(data_root: Path) -> str:
    """What to print when only the synthetic demo set is available."""
    return (
        f"note: no corpus found under {data_root}/; using the built-in SYNTHETIC demo set "
        "(generated signals: results say nothing about real recordings).\n"
        "Get the real corpora with:\n"
        f"  python -m bench download esc50 --data-root {data_root}\n"
        f"  python -m bench download librispeech:test-clean --data-root {data_root}\n"
        "or use copies you already have: --datasets esc50=PATH,librispeech=PATH"
    )


# -- command-line options shared by run / train-namc --------------------------------------------
#: argparse dest -> filter keyword of the kinds.
CLI_FILTERS = {
    "folds": "folds",
    "classes": "classes",
    "esc10": "esc10",
    "subsets": "subsets",
    "speakers": "speakers",
}


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--datasets --data-root --limit --max-seconds --protocol`` and the filters."""
    group = parser.add_argument_group("datasets")
    group.add_argument(
        "--datasets",
        metavar="SPEC",
        help="comma-separated KIND[:OPTION][=PATH]: esc50=PATH, librispeech=PATH (root or a "
        "subset), librispeech:SUBSET, folder=PATH, folder:speech=PATH, demo; a bare name is "
        "looked up under --data-root. Default: the corpora found there, else the synthetic "
        "demo set",
    )
    group.add_argument(
        "--data-root",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        metavar="DIR",
        help="where bare dataset names are looked up (default: %(default)s)",
    )
    group.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="at most N clips per dataset, spread round-robin over classes/speakers/folders",
    )
    group.add_argument(
        "--max-seconds",
        type=positive_float,
        metavar="S",
        help="keep the first S seconds of longer clips (one clip per file)",
    )
    group.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="native",
        help="native: native rate and channels (default); seed: the original note's "
        f"preparation (mono, {SEED_RATE} Hz, first {SEED_FRAMES} samples, min-max to [0, 1])",
    )
    group.add_argument("--folds", metavar="F,F", help="ESC-50: only these folds (e.g. 1,2,3)")
    group.add_argument("--classes", metavar="C,C", help="ESC-50: only these classes")
    group.add_argument(
        "--esc10", action="store_true", default=None, help="ESC-50: only the ESC-10 subset"
    )
    group.add_argument("--subsets", metavar="S,S", help="LibriSpeech: only these subsets")
    group.add_argument("--speakers", metavar="ID,ID", help="LibriSpeech: only these speakers")


def clips_from_args(args: argparse.Namespace, *, stream: TextIO | None = None) -> list[Clip]:
    """The clips the options of :func:`add_dataset_arguments` select, over every dataset.

    With no ``--datasets``, uses :func:`default_datasets` (which prints the download hint when
    it falls back to the demo set). A filter no chosen dataset understands is an error.
    """
    data_root = Path(getattr(args, "data_root", None) or DEFAULT_DATA_ROOT)
    text = getattr(args, "datasets", None)
    specs = (
        parse_datasets_arg(text, data_root) if text else default_datasets(data_root, stream=stream)
    )
    given = {
        keyword: getattr(args, dest)
        for dest, keyword in CLI_FILTERS.items()
        if getattr(args, dest, None) is not None
    }
    used: set[str] = set()
    clips: list[Clip] = []
    for spec in specs:
        kind = get_kind(spec.kind)
        filters = {k: v for k, v in given.items() if k in kind.filters}
        used.update(filters)
        clips.extend(
            load_clips(
                spec,
                limit=getattr(args, "limit", None),
                max_seconds=getattr(args, "max_seconds", None),
                protocol=getattr(args, "protocol", "native") or "native",
                **filters,
            )
        )
    unused = sorted(set(given) - used)
    if unused:
        names = ", ".join(f"--{u}" for u in unused)
        chosen = ", ".join(s.name for s in specs)
        raise BenchError(f"{names} do(es) not apply to the chosen dataset(s) ({chosen})")
    return clips


def describe_kinds() -> Sequence[tuple[str, str]]:
    """(name, description) of every dataset kind, for ``list`` and ``--help`` texts."""
    return [(name, kind.description) for name, kind in sorted(DATASETS.items())]
