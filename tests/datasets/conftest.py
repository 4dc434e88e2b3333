"""Fixtures for the dataset tests: a local HTTP server and archives shaped like the real ones."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def wav_bytes(seconds: float = 0.05, rate: int = 44100, seed: int = 0, fmt: str = "WAV") -> bytes:
    """A short noise burst encoded as WAV (PCM16) or FLAC."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    sf.write(buffer, 0.1 * rng.standard_normal(int(seconds * rate)), rate, "PCM_16", format=fmt)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- archives like the official ones ------------------------------------------------------------
ESC50_HEADER = "filename,fold,target,category,esc10,src_file,take"
#: (filename, fold, target, category, esc10, src_file, take)
ESC50_ROWS = [
    ("1-100032-A-0.wav", 1, 0, "dog", "True", "100032", "A"),
    ("1-115545-A-48.wav", 1, 48, "fireworks", "False", "115545", "A"),
    ("2-102414-A-17.wav", 2, 17, "pouring_water", "False", "102414", "A"),
    ("3-103051-A-19.wav", 3, 19, "thunderstorm", "False", "103051", "A"),
]


def esc50_zip(top: str = "ESC-50-master", extra: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out like GitHub's archive of karolpiczak/ESC-50 (one top-level folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(f"{top}/", b"")
        bundle.writestr(f"{top}/README.md", b"# ESC-50\n")
        bundle.writestr(f"{top}/audio/", b"")
        for index, row in enumerate(ESC50_ROWS):
            bundle.writestr(f"{top}/audio/{row[0]}", wav_bytes(seed=index))
        csv_text = "\n".join([ESC50_HEADER, *(",".join(map(str, r)) for r in ESC50_ROWS)]) + "\n"
        bundle.writestr(f"{top}/meta/esc50.csv", csv_text)
        for name, data in (extra or {}).items():
            bundle.writestr(name, data)
    return buffer.getvalue()


#: subset -> speaker -> chapter -> utterance numbers
LIBRI_LAYOUT = {"dev-clean": {"84": {"121123": [0, 1]}, "174": {"50561": [0]}}}


def librispeech_tgz(
    subset: str = "dev-clean",
    extra: list[tarfile.TarInfo] | None = None,
) -> bytes:
    """A tar.gz laid out like OpenSLR's: ``LibriSpeech/<subset>/<spk>/<chap>/...``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))

        add("LibriSpeech/README.TXT", b"LibriSpeech ASR corpus\n")
        add("LibriSpeech/SPEAKERS.TXT", b"; ID | SEX | SUBSET\n84 | F | dev-clean | 8 | A\n")
        layout = LIBRI_LAYOUT["dev-clean"]
        for speaker, chapters in layout.items():
            for chapter, utts in chapters.items():
                base = f"LibriSpeech/{subset}/{speaker}/{chapter}"
                lines = []
                for utt in utts:
                    uid = f"{speaker}-{chapter}-{utt:04d}"
                    add(f"{base}/{uid}.flac", wav_bytes(rate=16000, seed=utt, fmt="FLAC"))
                    lines.append(f"{uid} WORDS OF UTTERANCE {utt}")
                add(f"{base}/{speaker}-{chapter}.trans.txt", ("\n".join(lines) + "\n").encode())
        for info in extra or []:
            bundle.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buffer.getvalue()


# -- a local HTTP server ------------------------------------------------------------------------
@dataclass
class Served:
    """What the test server serves and how it misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: Drop the connection after this many body bytes, for the first ``cuts`` responses.
    cut_after: int | None = None
    cuts: int = 0
    #: When False, Range headers are ignored (full body with 200).
    honour_range: bool = True
    #: (method, path, Range header) of every request.
    log: list[tuple[str, str, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    served: Served

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        served = self.server.served  # type: ignore[attr-defined]
        range_header = self.headers.get("Range")
        served.log.append(("GET", self.path, range_header))
        data = served.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
        if match and served.honour_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if served.cut_after is not None and served.cuts > 0:
            served.cuts -= 1
            self.wfile.write(body[: served.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def server() -> Iterator[tuple[str, Served]]:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port): (base URL, its state)."""
    served = Served()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.served = served  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def leftovers(root: Path) -> list[str]:
    """Everything under ``root`` except the download folder's lock files."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if not p.name.endswith(".lock") and p.name != ".downloads"
    )
