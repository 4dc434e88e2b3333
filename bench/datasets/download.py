"""Download, verify and install the official ESC-50 and LibriSpeech archives.

The path of one ``python -m bench download esc50``::

    <data-root>/.downloads/ESC-50-<commit>.zip.part   bytes arrive here; an interrupted
                                                     transfer resumes with an HTTP Range request
    -> SHA-256 checked against the pinned value       mismatch: .part deleted, clear error
    -> renamed to <data-root>/.downloads/ESC-50-<commit>.zip
    -> extracted into <data-root>/.esc50-XXXX/        members that are absolute, hold '..',
                                                     are links or devices are refused
    -> checked (CSV present, every listed file there), marker .bench-download.json written
    -> renamed to <data-root>/ESC-50-master/         the one step that makes it visible
    -> archive deleted (unless --keep-archive)

A failure anywhere before the last rename removes the temporary folder, so a dataset folder is
either complete (with its marker) or absent. A second call finds the marker and does nothing.

Why not pooch: pooch (installed) verifies hashes and renames atomically, but it cannot resume an
interrupted transfer (a 6-30 GB LibriSpeech tarball over a flaky link) and its unzip/untar
processors extract members without refusing links or paths that escape the target. The standard
library's ``urllib`` is enough for HTTP Range, so no new dependency is needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import IO, Any, TextIO

from bench import __version__
from bench.datasets.sources import Source, get_source
from bench.errors import BenchError
from bench.fsutil import atomic_write_text

#: Name of the completion marker inside an installed dataset folder.
MARKER = ".bench-download.json"
#: Folder under the data root for archives and ``.part`` files.
DOWNLOADS = ".downloads"
CHUNK = 1 << 16
USER_AGENT = f"namc-bench/{__version__} (dataset downloader; Python urllib)"
#: HTTP statuses worth retrying (the server may recover); others are final.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Extraction needs room for the unpacked files; WAV/FLAC barely compress, so budget 1.5x.
EXTRACT_FACTOR = 1.5


class DownloadError(BenchError):
    """The transfer failed (network, HTTP status, disk)."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes are not the pinned archive."""


class UnsafeArchive(BenchError):
    """The archive holds a member that could write outside its folder, or is corrupt."""


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_dataset` did.

    ``status`` is ``"downloaded"``, ``"already-downloaded"`` (marker found, nothing done) or
    ``"present"`` (a copy not made by this tool is there; left alone).
    """

    target: str
    path: Path
    status: str
    sha256: str | None = None


# -- the command's entry point ----------------------------------------------------------------
def install_path(source: Source, data_root: Path) -> Path:
    """Where ``source`` is installed: ``ESC-50-master/`` or ``LibriSpeech/<subset>/``."""
    from bench.datasets import esc50, librispeech

    if source.kind == "esc50":
        return data_root / esc50.FOLDER
    assert source.subset is not None
    return data_root / librispeech.FOLDER / source.subset


def download_dataset(
    target: str,
    data_root: Path,
    *,
    url: str | None = None,
    sha256: str | None = None,
    keep_archive: bool = False,
    progress: bool | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 1.0,
    stream: TextIO | None = None,
) -> DownloadResult:
    """Download, verify and install ``target`` (``esc50``, ``librispeech[:SUBSET]``).

    Args:
        target: what to fetch; ``librispeech`` alone means ``librispeech:test-clean``.
        data_root: the folder datasets live in (bare ``--datasets`` names are looked up there).
        url: a mirror serving the same archive (or a local file path / ``file://`` URL).
        sha256: accept these bytes instead of the pinned checksum.
        keep_archive: keep the verified archive in ``<data_root>/.downloads/``.
        progress: show a progress bar (``None``: only on a terminal).
        retries: consecutive failed attempts allowed before giving up (each resumes).
        timeout: seconds without data before an attempt counts as failed.
        backoff: first pause between attempts, doubled each time (capped at 30 s).
        stream: where messages go (default stderr).

    Raises :class:`ChecksumMismatch`, :class:`UnsafeArchive` or :class:`DownloadError`; in every
    failure case no dataset folder is left behind.
    """
    try:
        return _download(
            target, Path(data_root).expanduser(), url, sha256, keep_archive, progress,
            retries, timeout, backoff, stream if stream is not None else sys.stderr,
        )  # fmt: skip
    except BenchError:
        raise
    except OSError as exc:  # permissions, a full disk, a read-only folder: the user's to fix
        raise DownloadError(f"{target}: {exc}") from None


def _download(
    target: str,
    data_root: Path,
    url: str | None,
    sha256: str | None,
    keep_archive: bool,
    progress: bool | None,
    retries: int,
    timeout: float,
    backoff: float,
    out: TextIO,
) -> DownloadResult:
    source = get_source(target)
    expected = (sha256 or source.sha256).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise BenchError(f"--sha256 must be 64 hexadecimal digits, got {sha256!r}")
    final = install_path(source, data_root)
    done = _already_installed(source, final, out)
    if done is not None:
        return done
    downloads = data_root / DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    with _lock(downloads / f"{source.target.replace(':', '-')}.lock", source.target):
        done = _already_installed(source, final, out)  # another process may have finished
        if done is not None:
            return done
        archive = downloads / source.filename
        size = source.size if sha256 is None else None  # a mirror serves the same bytes
        if archive.is_file():
            print(f"{source.target}: verifying the archive kept from an earlier run", file=out)
            actual = file_sha256(archive)
            if actual != expected:
                archive.unlink()
        if not archive.is_file():
            fetch(
                url or source.url,
                archive,
                sha256=expected,
                size=size,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
                progress=progress,
                stream=out,
                extract_factor=EXTRACT_FACTOR,
                pinned=sha256 is None,
            )
        try:
            _install(source, archive, final, url or source.url, expected, out)
        finally:
            # also after a failed install: the same bytes would fail the same way again
            if not keep_archive:
                archive.unlink(missing_ok=True)
    print(f"{source.target}: installed at {final} (licence: {source.license})", file=out)
    return DownloadResult(source.target, final, "downloaded", expected)


def _already_installed(source: Source, final: Path, out: TextIO) -> DownloadResult | None:
    marker = final / MARKER
    if marker.is_file():
        recorded = None
        # The marker is only informative here: a damaged one must not stop anything.
        with contextlib.suppress(OSError, ValueError, RecursionError):
            data = json.loads(marker.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("sha256"), str):
                recorded = data["sha256"]
        print(f"{source.target}: already downloaded at {final} (nothing to do)", file=out)
        return DownloadResult(source.target, final, "already-downloaded", recorded)
    if final.exists():
        from bench.datasets import get_kind

        try:
            get_kind(source.kind).resolve(final)
        except BenchError:
            raise BenchError(
                f"{final} exists but is not a complete {source.kind} folder and was not made by "
                "this downloader; move it away and run the download again"
            ) from None
        print(
            f"{source.target}: {final} already holds a copy not downloaded by namc-bench; "
            "leaving it alone",
            file=out,
        )
        return DownloadResult(source.target, final, "present", None)
    return None


@contextlib.contextmanager
def _lock(path: Path, target: str) -> Iterator[None]:
    """An exclusive lock so two downloads of one target do not write the same ``.part``."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent downloads are the user's call
        yield
        return
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(
                f"{target}: another download of it is running (lock {path})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# -- transfer ---------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local_path(url: str) -> Path | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("http", "https", "ftp"):
        return None
    if len(parsed.scheme) > 1:
        raise DownloadError(f"{url}: unsupported URL scheme {parsed.scheme!r}")
    return Path(url).expanduser()  # a plain path (or a Windows drive letter)


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, full size) from ``bytes a-b/N`` or ``bytes */N``."""
    match = re.match(r"bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    first = int(match.group(1)) if match.group(1) is not None else None
    full = int(match.group(2)) if match.group(2) != "*" else None
    return first, full


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DownloadError(
            f"not enough disk space in {folder}: {needed / 1e9:.2f} GB needed (archive and "
            f"extracted files), {free / 1e9:.2f} GB free"
        )


def _progress_bar(total: int | None, initial: int, name: str, progress: bool | None, out: TextIO):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        file=out,
        disable=None if progress is None else not progress,
        leave=True,
    )


def fetch(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    backoff: float = 1.0,
    progress: bool | None = None,
    stream: TextIO | None = None,
    extract_factor: float = 0.0,
    pinned: bool = True,
) -> str:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming; return the SHA-256.

    An interrupted transfer (here or in an earlier run) continues from the ``.part`` file's
    size with ``Range: bytes=N-``; a server that ignores the range is read again from the
    start. After ``retries`` consecutive attempts without progress it gives up, keeping the
    ``.part`` for the next run. The bytes are checked against ``sha256`` before ``dest``
    appears; on a mismatch the ``.part`` is deleted and :class:`ChecksumMismatch` raised.
    """
    out = stream if stream is not None else sys.stderr
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    local = _local_path(url)
    if local is not None:
        _copy_local(local, part, progress, out)
    else:
        _http_download(url, part, size, retries, timeout, backoff, progress, out, extract_factor)
    actual = file_sha256(part)
    if sha256 is not None and actual != sha256.lower():
        part.unlink()
        why = (
            "GitHub regenerates repository archives from time to time, so the bytes can change "
            "while the content does not; if you trust this copy, rerun with --sha256 "
            f"{actual}"
            if pinned and "github.com" in url
            else "the file is corrupt or not the expected archive (a wrong --url?)"
        )
        raise ChecksumMismatch(
            f"{url}: checksum mismatch (expected SHA-256 {sha256}, got {actual}); the download "
            f"was deleted and nothing was installed. {why}"
        )
    os.replace(part, dest)
    return actual


def _copy_local(source: Path, part: Path, progress: bool | None, out: TextIO) -> None:
    if not source.is_file():
        raise DownloadError(f"{source}: no such file")
    total = source.stat().st_size
    with (
        open(source, "rb") as src,
        open(part, "wb") as dst,
        _progress_bar(total, 0, source.name, progress, out) as bar,
    ):
        for block in iter(lambda: src.read(1 << 20), b""):
            dst.write(block)
            bar.update(len(block))


def _http_download(
    url: str,
    part: Path,
    size: int | None,
    retries: int,
    timeout: float,
    backoff: float,
    progress: bool | None,
    out: TextIO,
    extract_factor: float,
) -> None:
    total = size
    failures = 0
    reason = ""
    space_checked = False
    bar: Any = None

    def say(message: str) -> None:
        # through tqdm while a bar is drawn, so the message does not garble it
        if bar is not None:
            bar.write(message, file=out)
        else:
            print(message, file=out)

    try:
        while True:
            offset = part.stat().st_size if part.exists() else 0
            if total is not None and offset > total:
                part.unlink()  # longer than the archive: not a prefix of it
                offset = 0
            if total is not None and offset == total:
                return
            headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    status = response.status
                    length_header = response.headers.get("Content-Length")
                    body = int(length_header) if length_header else None
                    if status == 206:
                        first, full = _content_range(response.headers.get("Content-Range"))
                        if first != offset:
                            raise _Restart("server sent a different byte range")
                        total = full if full is not None else total
                        mode = "ab"
                    else:
                        if offset:
                            say(f"{url}: server ignored the resume request; starting over")
                        offset = 0
                        total = body if body is not None else total
                        mode = "wb"
                    if not space_checked and total is not None:
                        _check_space(part.parent, (total - offset) + int(extract_factor * total))
                        space_checked = True
                    if bar is None:
                        bar = _progress_bar(
                            total, offset, part.name[: -len(".part")], progress, out
                        )
                        if offset:
                            say(f"{url}: resuming at byte {offset}")
                    else:
                        bar.total = total
                        bar.n = offset
                        bar.refresh()
                    received = 0
                    with open(part, mode) as handle:
                        while True:
                            chunk = response.read(CHUNK)
                            if not chunk:
                                break
                            handle.write(chunk)
                            received += len(chunk)
                            failures = 0  # progress made: the retry budget starts again
                            bar.update(len(chunk))
                    if body is not None and received < body:
                        raise ConnectionError(f"connection closed after {received} of {body} bytes")
                    if total is None or offset + received >= total:
                        return
            except _Restart as exc:
                say(f"{url}: {exc}; starting over")
                part.unlink(missing_ok=True)
                failures, reason = failures + 1, str(exc)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and offset:
                    _, full = _content_range(exc.headers.get("Content-Range"))
                    if full == offset:
                        return  # the .part already holds everything
                    part.unlink(missing_ok=True)  # a stale .part of some other file
                elif exc.code not in RETRY_STATUSES:
                    raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
                failures, reason = failures + 1, f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                failures, reason = failures + 1, str(getattr(exc, "reason", None) or exc)
            if failures > retries:
                keep = f"; run again to resume from {part}" if part.exists() else ""
                raise DownloadError(f"{url}: {reason} (gave up after {retries} retries{keep})")
            if failures:
                say(f"{url}: {reason}; retrying ({failures}/{retries})")
                time.sleep(min(30.0, backoff * 2 ** (failures - 1)))
    finally:
        if bar is not None:
            bar.close()


class _Restart(Exception):
    pass


# -- extraction -------------------------------------------------------------------------------
def safe_member_path(name: str) -> PurePosixPath | None:
    """The relative path an archive member may be written to; ``None`` for ``./``.

    Refuses (:class:`UnsafeArchive`) absolute paths, Windows drive or UNC paths, backslashes,
    NUL bytes and any ``..`` component: names that could land outside the target folder.
    """
    if "\x00" in name:
        raise UnsafeArchive(f"archive member {name!r} has a NUL byte in its name")
    if "\\" in name:
        raise UnsafeArchive(f"archive member {name!r} has a backslash (Windows path) in its name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchive(f"archive member {name!r} is an absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"archive member {name!r} escapes the target folder ('..')")
    return PurePosixPath(*parts) if parts else None


def _target(dest: Path, relative: PurePosixPath) -> Path:
    target = dest.joinpath(*relative.parts)
    # belt and braces: no member may resolve outside dest (we create every folder ourselves
    # and refuse links, so this only trips on a bug)
    if os.path.commonpath([dest.resolve(), target.resolve()]) != str(dest.resolve()):
        raise UnsafeArchive(f"archive member {relative} resolves outside {dest}")
    return target


def _write_member(source: IO[bytes], target: Path, name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(target, "xb") as handle:
            shutil.copyfileobj(source, handle, CHUNK)
    except FileExistsError:
        raise UnsafeArchive(f"archive member {name!r} appears twice") from None


def extract_archive(archive: Path, dest: Path, fmt: str) -> None:
    """Extract ``archive`` (``"zip"`` or ``"tar.gz"``/any tar) into the existing ``dest``.

    Only regular files and folders are written, with default permissions; a symbolic or hard
    link, device, FIFO or any unsafe name (see :func:`safe_member_path`) aborts with
    :class:`UnsafeArchive`. The caller extracts into a fresh temporary folder and deletes it on
    failure, so nothing half-extracted survives.
    """
    try:
        if fmt == "zip":
            _extract_zip(archive, dest)
        else:
            _extract_tar(archive, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise UnsafeArchive(f"{archive}: corrupt archive ({exc})") from None


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            relative = safe_member_path(info.filename)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"archive member {info.filename!r} is a symbolic link")
            if kind and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise UnsafeArchive(f"archive member {info.filename!r} is not a file or folder")
            if relative is None:
                continue
            target = _target(dest, relative)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            with bundle.open(info) as source:  # zipfile checks each member's CRC
                _write_member(source, target, info.filename)


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as bundle:
        for member in bundle:
            if member.issym() or member.islnk():
                raise UnsafeArchive(
                    f"archive member {member.name!r} is a link (to {member.linkname!r})"
                )
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchive(f"archive member {member.name!r} is a device or FIFO")
            relative = safe_member_path(member.name)
            if relative is None:
                continue
            target = _target(dest, relative)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            source = bundle.extractfile(member)
            if source is None:
                raise UnsafeArchive(f"archive member {member.name!r} has no data")
            with source:
                _write_member(source, target, member.name)


# -- installing -------------------------------------------------------------------------------
def _install(source: Source, archive: Path, final: Path, url: str, sha: str, out: TextIO) -> None:
    """Extract beside ``final``, check the layout, write the marker, rename into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}-extract-", dir=final.parent))
    try:
        print(f"{source.target}: extracting {archive.name}", file=out)
        extract_archive(archive, work, source.format)
        folder = (
            _esc50_folder(work, archive)
            if source.kind == "esc50"
            else _librispeech_folder(work, archive, source, final.parent)
        )
        marker = {
            "target": source.target,
            "url": url,
            "archive": archive.name,
            "sha256": sha,
            "installed_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "namc_bench": __version__,
        }
        atomic_write_text(folder / MARKER, json.dumps(marker, indent=2) + "\n")
        try:
            os.rename(folder, final)
        except OSError as exc:
            raise DownloadError(f"cannot move the extracted files to {final}: {exc}") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _single_top_folder(work: Path, archive: Path) -> Path:
    entries = [p for p in work.iterdir() if not p.name.startswith(".")]
    folders = [p for p in entries if p.is_dir()]
    if len(entries) != 1 or len(folders) != 1:
        names = ", ".join(sorted(p.name for p in entries)) or "nothing"
        raise UnsafeArchive(f"{archive.name}: expected one top-level folder, found {names}")
    return folders[0]


def _esc50_folder(work: Path, archive: Path) -> Path:
    from bench.datasets import esc50

    top = _single_top_folder(work, archive)
    if not (top / esc50.CSV_PATH).is_file():
        raise UnsafeArchive(f"{archive.name}: no {esc50.CSV_PATH} in {top.name}/")
    rows = esc50.read_rows(top)
    missing = [r["filename"] for r in rows if not (top / "audio" / r["filename"]).is_file()]
    if not rows or missing:
        listed = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise UnsafeArchive(
            f"{archive.name}: incomplete ESC-50 ({len(rows)} rows in {esc50.CSV_PATH}, "
            f"{len(missing)} of their files missing: {listed or 'no rows'})"
        )
    return top


def _librispeech_folder(work: Path, archive: Path, source: Source, corpus: Path) -> Path:
    from bench.datasets import librispeech

    top = _single_top_folder(work, archive)
    if top.name != librispeech.FOLDER:
        raise UnsafeArchive(f"{archive.name}: expected LibriSpeech/ at the top, found {top.name}/")
    assert source.subset is not None
    subset = top / source.subset
    if not subset.is_dir() or not any(subset.glob(f"*/*/*{librispeech.AUDIO_EXT}")):
        raise UnsafeArchive(f"{archive.name}: no {source.subset}/<speaker>/<chapter>/*.flac")
    # Corpus-wide files (README, SPEAKERS.TXT, ...) are the same in every subset's tarball:
    # add those missing from <data-root>/LibriSpeech/, each with an atomic rename.
    corpus.mkdir(parents=True, exist_ok=True)
    for item in top.iterdir():
        if item.is_file() and not (corpus / item.name).exists():
            os.replace(item, corpus / item.name)
    return subset
