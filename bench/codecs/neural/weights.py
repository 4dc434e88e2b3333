"""Where the neural peers' weights are looked for; nothing is ever downloaded.

A peer's weights are found, in this order, at:

1. ``$BENCH_WEIGHTS_<NAME>`` (e.g. ``BENCH_WEIGHTS_ENCODEC24``): a checkpoint folder or file;
2. ``$BENCH_WEIGHTS_DIR/<folder>`` (default ``~/.cache/namc-bench/weights/<folder>``), e.g. a
   ``save_pretrained`` folder or a copy of the Hugging Face snapshot;
3. the Hugging Face cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
   ``~/.cache/huggingface/hub``): ``models--<org>--<repo>/snapshots/<revision>/`` with the
   revision named by ``refs/main`` (else the only snapshot there).

A location counts only when every required file is there. The lookup reads the file system
only (no ``huggingface_hub`` import), so ``--list`` and ``python -m bench weights`` stay fast
and work without the ``[neural]`` extra. Loading later passes ``local_files_only=True`` and sets
``HF_HUB_OFFLINE=1``, so a missing file is an error, never a download.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: Root of the suite's own weight folders (one sub-folder per checkpoint).
WEIGHTS_DIR_ENV = "BENCH_WEIGHTS_DIR"
#: Prefix of the per-codec override variable (``BENCH_WEIGHTS_ENCODEC24`` ...).
OVERRIDE_PREFIX = "BENCH_WEIGHTS_"


@dataclass(frozen=True)
class WeightSource:
    """A checkpoint a neural peer needs: its Hugging Face repo and the files it must hold."""

    #: Codec name; the override variable is ``BENCH_WEIGHTS_`` + this, upper-cased, ``-`` -> ``_``.
    codec: str
    #: Hugging Face model repo, e.g. ``"facebook/encodec_24khz"``.
    repo: str
    #: Files (relative to the checkpoint folder) that must exist, e.g. ``("config.json",
    #: "model.safetensors")``.
    files: tuple[str, ...] = ("config.json", "model.safetensors")
    #: Alternatives to the last of ``files`` (older checkpoints ship ``pytorch_model.bin``).
    alternatives: tuple[str, ...] = ("pytorch_model.bin",)

    @property
    def env_var(self) -> str:
        """Name of the per-codec override variable."""
        return OVERRIDE_PREFIX + self.codec.upper().replace("-", "_")

    @property
    def folder_name(self) -> str:
        """Sub-folder of ``$BENCH_WEIGHTS_DIR`` looked in: the repo's name."""
        return self.repo.split("/")[-1]

    def how_to_get(self) -> str:
        """One line telling a user how to put the weights where they are looked for."""
        cached = "models--" + self.repo.replace("/", "--")
        return (
            f"run `hf download {self.repo}` on a machine with internet and copy the folder "
            f"{cached} of its Hugging Face cache into {hf_cache_dir()}, or put the "
            f"checkpoint folder (config.json + weights) at {weights_root() / self.folder_name}, "
            f"or set {self.env_var}=FOLDER"
        )


@dataclass(frozen=True)
class Located:
    """The outcome of a lookup: the folder found (or ``None``) and every place looked in."""

    source: WeightSource
    path: Path | None
    looked: tuple[str, ...]

    @property
    def found(self) -> bool:
        """Whether a complete checkpoint was found."""
        return self.path is not None

    def reason(self) -> str:
        """Why the codec is unavailable (empty when found)."""
        if self.found:
            return ""
        return (
            f"weights for {self.source.repo} not found; looked in: {'; '.join(self.looked)}. "
            f"To get them, {self.source.how_to_get()}"
        )


def weights_root() -> Path:
    """``$BENCH_WEIGHTS_DIR``, else ``~/.cache/namc-bench/weights``."""
    value = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "namc-bench" / "weights"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, resolved as ``huggingface_hub`` does."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def _complete(folder: Path, source: WeightSource) -> bool:
    if not folder.is_dir():
        return False
    *required, last = source.files
    if not all((folder / name).is_file() for name in required):
        return False
    return any((folder / name).is_file() for name in (last, *source.alternatives))


def _hf_snapshot(repo_dir: Path) -> Path | None:
    """The snapshot named by ``refs/main``, else the only one, else ``None``."""
    ref = repo_dir / "refs" / "main"
    try:
        revision = ref.read_text(encoding="utf-8").strip()
    except OSError:
        revision = ""
    if revision and (repo_dir / "snapshots" / revision).is_dir():
        return repo_dir / "snapshots" / revision
    snapshots = repo_dir / "snapshots"
    found = sorted(p for p in snapshots.iterdir() if p.is_dir()) if snapshots.is_dir() else []
    return found[0] if len(found) == 1 else None


def locate(source: WeightSource) -> Located:
    """Look for ``source`` in the places listed in the module docstring, in order."""
    looked: list[str] = []
    override = os.environ.get(source.env_var)
    if override:
        path = Path(override).expanduser()
        # A file stands for its folder (e.g. the path of model.safetensors or config.json).
        folder = path.parent if path.is_file() else path
        looked.append(f"${source.env_var}={path}")
        if _complete(folder, source):
            return Located(source, folder, tuple(looked))
        # An explicit override that is wrong must not fall through to another copy silently.
        return Located(source, None, tuple(looked))
    own = weights_root() / source.folder_name
    looked.append(str(own))
    if _complete(own, source):
        return Located(source, own, tuple(looked))
    repo_dir = hf_cache_dir() / ("models--" + source.repo.replace("/", "--"))
    looked.append(f"{repo_dir}/snapshots/<refs/main>")
    snapshot = _hf_snapshot(repo_dir) if repo_dir.is_dir() else None
    if snapshot is not None and _complete(snapshot, source):
        return Located(source, snapshot, tuple(looked))
    return Located(source, None, tuple(looked))


def weight_files(folder: Path, source: WeightSource) -> list[Path]:
    """The files of a found checkpoint that hold the weights (what the tag is computed from)."""
    names: Sequence[str] = (*source.files, *source.alternatives)
    return [folder / name for name in dict.fromkeys(names) if (folder / name).is_file()]


@functools.lru_cache(maxsize=32)
def _digest(paths: tuple[str, ...], stamps: tuple[tuple[int, int], ...]) -> str:
    del stamps  # part of the cache key only: a replaced file is hashed again
    sha = hashlib.sha256()
    for name in paths:
        with open(name, "rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 22), b""):
                sha.update(block)
    return sha.hexdigest()


def checkpoint_digest(folder: Path, source: WeightSource) -> str:
    """SHA-256 over the checkpoint's files (config and weights), cached per file state."""
    files = weight_files(folder, source)
    stamps = tuple((f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    return _digest(tuple(str(f) for f in files), stamps)
