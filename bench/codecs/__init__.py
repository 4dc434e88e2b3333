"""Codec registry: built-in adapters plus any ``*.py`` dropped into a plug-in folder.

``CODECS`` is a plain dict from name to a :class:`~bench.codecs.base.Codec` instance, filled by
:func:`register_codec`. Built-in modules and plug-in files are imported on first use, so
``import bench.codecs`` stays cheap and a broken plug-in is reported instead of crashing.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from bench.codecs.base import Bitrates, Codec, Encoded
from bench.errors import BenchError
from bench.registry import Registry

__all__ = [
    "CODECS",
    "Bitrates",
    "Codec",
    "Encoded",
    "all_codecs",
    "default_plugin_dirs",
    "get_codec",
    "load_plugins",
    "plugin_errors",
    "register_codec",
    "resolve_codecs",
]

CODECS: Registry[Codec] = Registry("codec")

#: Modules holding the built-in adapters, imported on first registry access.
BUILTIN_MODULES = (
    "bench.codecs.pyav_codecs",
    "bench.codecs.cli_codecs",
    "bench.codecs.namc",
    "bench.codecs.lc3_codec",
    # Neural peers (torch and transformers load on first encode, not here).
    "bench.codecs.neural.encodec",
    "bench.codecs.neural.mimi",
    "bench.codecs.neural.dac",
    "bench.codecs.neural.dacfile",
    "bench.codecs.neural.snac_codec",
)

#: Environment variable naming extra plug-in folders (``os.pathsep``-separated).
PLUGIN_ENV = "BENCH_CODECS_DIR"

C = TypeVar("C", bound=type)

_lock = threading.Lock()
_loaded_builtins = False
_loaded_dirs: set[Path] = set()
_plugin_errors: dict[str, str] = {}


def register_codec(cls: C) -> C:
    """Class decorator: instantiate ``cls()`` and register it under ``cls.name``.

    >>> @register_codec
    ... class Mine(Codec):
    ...     name = "mine"
    ...     ...
    """
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise TypeError("@register_codec decorates a Codec subclass")
    if not cls.name:
        raise TypeError(f"{cls.__name__} must set the class attribute 'name'")
    CODECS.register(cls.name)(cls())
    return cls


def default_plugin_dirs() -> list[Path]:
    """Plug-in folders: ``$BENCH_CODECS_DIR`` entries, then the project's top-level ``codecs/``."""
    dirs: list[Path] = []
    for entry in os.environ.get(PLUGIN_ENV, "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    # The project's drop-in folder (beside run_bench.py), and ./codecs when run from elsewhere.
    dirs.append(Path(__file__).resolve().parents[2] / "codecs")
    dirs.append(Path.cwd() / "codecs")
    return dirs


def _load_builtins() -> None:
    global _loaded_builtins
    if _loaded_builtins:
        return
    _loaded_builtins = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:  # adapter module not part of this build
                continue
            _plugin_errors[module] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a broken adapter must not take the others down
            _plugin_errors[module] = f"{type(exc).__name__}: {exc}"


def load_plugins(dirs: Iterable[str | os.PathLike[str]] | None = None) -> list[str]:
    """Import every ``*.py`` (not starting with ``_``) in ``dirs``; return the names added.

    A file that fails to import is recorded in :func:`plugin_errors` and skipped.
    """
    added: list[str] = []
    with _lock:
        _load_builtins()
        for folder in default_plugin_dirs() if dirs is None else [Path(d) for d in dirs]:
            folder = folder.resolve()
            if folder in _loaded_dirs or not folder.is_dir():
                continue
            _loaded_dirs.add(folder)
            for file in sorted(folder.glob("*.py")):
                if file.name.startswith("_"):
                    continue
                before = set(CODECS)
                digest = hashlib.sha1(str(file).encode()).hexdigest()[:8]
                module_name = f"bench_plugin_{digest}_{file.stem}"
                try:
                    spec = importlib.util.spec_from_file_location(module_name, file)
                    if spec is None or spec.loader is None:
                        raise ImportError("not importable")
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[module_name] = module
                    spec.loader.exec_module(module)
                except Exception as exc:
                    sys.modules.pop(module_name, None)
                    _plugin_errors[str(file)] = f"{type(exc).__name__}: {exc}"
                    continue
                added.extend(sorted(set(CODECS) - before))
    return added


def plugin_errors() -> dict[str, str]:
    """Plug-in files and built-in modules that failed to import, with the error."""
    return dict(_plugin_errors)


def all_codecs() -> dict[str, Codec]:
    """Every registered codec (built-ins and default plug-in folders), by name."""
    load_plugins()
    return dict(sorted(CODECS.items()))


def get_codec(name: str) -> Codec:
    """The codec registered as ``name``; unknown names raise an error listing the valid ones."""
    load_plugins()
    return CODECS.get_one(name)


def resolve_codecs(spec: str | Iterable[str]) -> list[Codec]:
    """Turn ``"all"`` or ``"mp3,opus"`` into codecs.

    ``all`` means every primary codec that is available here (the others are listed by
    ``--list`` with the reason). Naming an unavailable codec explicitly is an error.
    """
    names = [n.strip() for n in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    if not names:
        raise BenchError("no codec named; use --codecs all or a comma-separated list")
    if names == ["all"]:
        return [c for c in all_codecs().values() if c.primary and c.availability()[0]]
    codecs = []
    for name in dict.fromkeys(names):
        codec = get_codec(name)
        ok, reason = codec.availability()
        if not ok:
            raise BenchError(f"codec {name!r} is not available here: {reason}")
        codecs.append(codec)
    return codecs
