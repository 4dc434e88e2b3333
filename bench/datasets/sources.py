"""Where the official archives live and the checksums they are verified against.

Every checksum below is copied from public code that pins it, cited next to it; none is
invented, and none could be re-measured here (this machine has no internet access).

ESC-50
    GitHub publishes no checksum, and the branch archive (``archive/master.zip``) is generated on
    request and has not been byte-stable: public loaders pin at least four different MD5s for it
    (``7771e4b9...`` in soundata/soundata ``soundata/datasets/esc50.py`` and the HEAR 2021
    preprocessing task; ``629e8e9e...`` in kiwano's ESC-50 recipe; ``70cce0ef...`` in loaders
    derived from AminJun/torchaudio.dataset.ESC-50; ``d5c1e28f...`` in another project's
    metadata module). So we download the archive
    of one fixed commit, 33c8ce9 (the repository's latest commit), and pin the SHA-256 and size
    that several independent public projects record for exactly that URL. GitHub regenerated
    archives before (2023) and may again; then the download stops with a checksum error that
    says so, and ``--sha256`` lets a user accept new bytes after checking them some other way.

LibriSpeech
    The SHA-256 of each OpenSLR tarball as pinned by torchaudio (pytorch/audio,
    ``src/torchaudio/datasets/librispeech.py``, ``_CHECKSUMS``); Apple's mlx-data
    (``python/mlx/data/datasets/librispeech.py``, ``SPLITS``) pins the same seven values.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import UnknownNameError


@dataclass(frozen=True)
class Source:
    """One downloadable archive.

    Attributes:
        target: what ``python -m bench download`` calls it (``esc50``, ``librispeech:dev-clean``).
        kind: the dataset kind it installs.
        url: the official location.
        filename: the archive's file name in the download folder.
        sha256: the pinned SHA-256 of the archive's bytes.
        size: the archive's size in bytes when pinned too (``None`` when unknown).
        format: ``"zip"`` or ``"tar.gz"``.
        license: the data's licence, printed after a download.
        subset: the LibriSpeech subset (``None`` for ESC-50).
    """

    target: str
    kind: str
    url: str
    filename: str
    sha256: str
    size: int | None
    format: str
    license: str
    subset: str | None = None


#: karolpiczak/ESC-50 at this commit (the repository's latest; one public loader notes it as
#: "Latest commit per November 24, 2025").
ESC50_COMMIT = "33c8ce9eb2cf0b1c2f8bcf322eb349b6be34dbb6"

ESC50 = Source(
    target="esc50",
    kind="esc50",
    url=f"https://github.com/karolpiczak/ESC-50/archive/{ESC50_COMMIT}.zip",
    filename=f"ESC-50-{ESC50_COMMIT}.zip",
    # SHA-256 and size of archive/<ESC50_COMMIT>.zip as recorded in several public projects'
    # download scripts (found by exact-string search of public GitHub code; one comments
    # "Observed from the official pinned archive on 2026-09-12, not an upstream signature").
    sha256="661183a6f53ef04f12c9bd618fed0ddc1713280d6c94a5a5431e844ba6f6a21f",
    size=645_832_161,
    format="zip",
    license="CC BY-NC 3.0, the ESC-10 subset CC BY 3.0; see LICENSE in the folder",
)

#: SHA-256 of https://www.openslr.org/resources/12/<subset>.tar.gz, from torchaudio's
#: ``_CHECKSUMS`` (pytorch/audio src/torchaudio/datasets/librispeech.py), identical in
#: ml-explore/mlx-data python/mlx/data/datasets/librispeech.py.
LIBRISPEECH_SHA256 = {
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
    "train-clean-360": "146a56496217e96c14334a160df97fffedd6e0a04e66b9c5af0d40be3c792ecf",
    "train-other-500": "ddb22f27f96ec163645d53215559df6aa36515f26e01dd70798188350adcb6d2",
}

#: Approximate archive sizes from the OpenSLR resource page, for messages only.
LIBRISPEECH_SIZES = {
    "dev-clean": "337 MB",
    "dev-other": "314 MB",
    "test-clean": "346 MB",
    "test-other": "328 MB",
    "train-clean-100": "6.3 GB",
    "train-clean-360": "23 GB",
    "train-other-500": "30 GB",
}

OPENSLR_BASE = "https://www.openslr.org/resources/12"


def _librispeech(subset: str) -> Source:
    return Source(
        target=f"librispeech:{subset}",
        kind="librispeech",
        url=f"{OPENSLR_BASE}/{subset}.tar.gz",
        filename=f"LibriSpeech-{subset}.tar.gz",
        sha256=LIBRISPEECH_SHA256[subset],
        size=None,
        format="tar.gz",
        license="CC BY 4.0; see LICENSE.TXT in LibriSpeech/",
        subset=subset,
    )


#: Every downloadable target.
SOURCES: dict[str, Source] = {
    ESC50.target: ESC50,
    **{f"librispeech:{s}": _librispeech(s) for s in LIBRISPEECH_SHA256},
}


def get_source(target: str) -> Source:
    """The source for ``esc50``, ``librispeech`` (= ``librispeech:test-clean``) or
    ``librispeech:SUBSET``; an unknown target raises an error listing the valid ones."""
    from bench.datasets.librispeech import DEFAULT_SUBSET

    name = target.strip().lower()
    if name == "librispeech":
        name = f"librispeech:{DEFAULT_SUBSET}"
    try:
        return SOURCES[name]
    except KeyError:
        valid = ", ".join(["librispeech", *SOURCES])
        raise UnknownNameError(f"unknown download target {target!r}; valid: {valid}") from None
