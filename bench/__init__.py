"""namc-bench: codecs behind one encode/decode interface, scored at measured, matched bitrates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.errors import BenchError

__version__ = "0.1.0"

__all__ = ["Audio", "BenchError", "__version__", "load_audio", "save_audio"]

if TYPE_CHECKING:
    from bench.audio import Audio, load_audio, save_audio

_LAZY = {"Audio", "load_audio", "save_audio"}


def __getattr__(name: str) -> Any:
    # numpy (and soundfile) load on first use, not with the package: the command line sets
    # numpy's thread limits before it is imported (see bench.cli).
    if name in _LAZY:
        from bench import audio

        return getattr(audio, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
