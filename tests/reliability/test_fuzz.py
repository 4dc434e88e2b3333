"""Fuzzing the parsers of the suite's own formats (issue 8, item 3) with hypothesis.

Targets: the FFmpeg codecs' envelope and the container decoders behind it (both backends), the
example mu-law plug-in's decoder, ``run.json`` as the runs list reads it, the results store file
and the download marker. Each must give a clear error (the documented exception type) or a
valid value; never another exception, never a hang (hypothesis deadlines), never an allocation
sized from a header rather than from the bytes (tracemalloc / peak RSS checks).

``tests/codecs/test_envelope.py`` already runs 1,800 envelope cases (random bytes after the
magic, mutated MP3 bitstreams); with the cases here the envelope and its decoders see about
4,500. NAMC's decoder is fuzzed in ``tests/namc/``.
"""

from __future__ import annotations

import io
import json
import resource
import shutil
import sqlite3
import struct
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.audio import Audio
from bench.codecs import get_codec
from bench.codecs.ffmpeg_common import _BODY, _HEAD, _MAX_FRAMES, ENVELOPE_MAGIC, Envelope
from bench.errors import BitstreamError, CodecError
from tests.conftest import require_binary

#: Room for a slow, shared CI machine; a hang is minutes, not seconds.
DEADLINE = timedelta(seconds=5)


def fuzz(examples: int) -> settings:
    """Settings of a fuzz target: ``examples`` cases, each within :data:`DEADLINE`."""
    return settings(
        max_examples=examples,
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large],
    )  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def bounded_memory() -> Iterator[None]:
    """No fuzz case may blow the process up: the peak RSS grows by less than 400 MB over the
    whole module (a single allocation sized from a header claim would be gigabytes)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 400, f"peak RSS grew by {grown_mb:.0f} MB while fuzzing"


class Blob(bytes):
    """Bytes with a short repr: hypothesis prints the arguments of a failing case."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes>"


def speech_like(seconds: float = 0.5, rate: int = 16000) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 720, 1400), 1))
    return Audio(0.2 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)), rate)


# -- the envelope: every field ------------------------------------------------------------------
def envelope_bytes(
    name: bytes, version: int, channels: int, fields: tuple[int, ...], container: bytes
) -> bytes:
    head = _HEAD.pack(ENVELOPE_MAGIC, version, channels, len(name))
    return head + name + _BODY.pack(*fields) + container


U32, U64 = st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
#: Values near every limit the parser checks, and anywhere in the field's range.
RATES = st.sampled_from([0, 999, 1000, 8000, 44100, 768_000, 768_001, 2**32 - 1]) | U32
FRAMES = st.sampled_from([0, 1, 2, 16000, _MAX_FRAMES, _MAX_FRAMES + 1, 2**64 - 1]) | U64


@fuzz(1200)
@given(
    name=st.sampled_from([b"mp3", b"opus", b"", b"\xff\xfe", b"mp3\x00"]) | st.binary(max_size=8),
    version=st.sampled_from([1, 1, 1, 0, 2, 255]),
    channels=st.integers(0, 255),
    fields=st.tuples(RATES, FRAMES, RATES, FRAMES, U32),
    container=st.binary(max_size=16),
)
def test_every_envelope_field_is_checked(
    name: bytes, version: int, channels: int, fields: tuple[int, ...], container: bytes
) -> None:
    data = envelope_bytes(name, version, channels, fields, container)
    try:
        env = Envelope.unpack(data, "mp3")
    except BitstreamError as exc:
        assert str(exc)  # says what is wrong
        return
    # Accepted: every value is one the decoder can act on without trusting it further.
    assert env.codec == "mp3" and 1 <= env.channels <= 8 and env.container == container
    assert 1000 <= env.input_rate <= 768_000 and 1000 <= env.native_rate <= 768_000
    assert 1 <= env.input_frames <= _MAX_FRAMES and 1 <= env.native_frames <= _MAX_FRAMES
    assert abs(env.input_frames - env.native_frames * env.input_rate / env.native_rate) <= (
        2 + env.input_rate / env.native_rate
    )


# -- the decoders behind the envelope -----------------------------------------------------------
#: The in-process (PyAV) codecs: each container format and decoder the suite writes.
PYAV_CODECS = ("mp3", "aac", "opus", "vorbis", "mp2", "amrnb", "g722", "speex", "flac")


@pytest.fixture(scope="module")
def encoded() -> dict[str, bytes]:
    """A real bitstream of every in-process codec (0.5 s of a speech-like tone at 16 kHz)."""
    audio = speech_like()
    out = {}
    for name in PYAV_CODECS:
        codec = get_codec(name)
        out[name] = Blob(codec.encode(audio, None if codec.lossless else codec.ladder()[0]).data)
    return out


def mutate(data: bytes, draw: st.DataObject) -> bytes:
    """``data`` with a header field lied about, bytes flipped, or the container replaced."""
    env = Envelope.unpack(data, _name(data))
    how = draw.draw(st.sampled_from(["fields", "flip", "random", "cut"]))
    if how == "fields":  # a consistent but false header: lengths, rates, delay, channels
        native_frames = draw.draw(st.sampled_from([1, env.native_frames * 2, 10**7, 10**10]))
        rate = draw.draw(st.sampled_from([env.native_rate, 8000, 48000, 768_000]))
        delay = draw.draw(st.sampled_from([0, env.delay, 999_999]))
        channels = draw.draw(st.sampled_from([env.channels, 2, 8]))
        in_frames = max(1, round(native_frames * env.input_rate / rate))
        fields = (env.input_rate, min(in_frames, _MAX_FRAMES), rate, native_frames, delay)
        return envelope_bytes(env.codec.encode(), 1, channels, fields, env.container)
    blob = bytearray(data)
    if how == "flip":
        for _ in range(draw.draw(st.integers(1, 16))):
            blob[draw.draw(st.integers(0, len(blob) - 1))] = draw.draw(st.integers(0, 255))
        return bytes(blob)
    header = len(data) - len(env.container)
    if how == "random":
        return bytes(blob[:header]) + draw.draw(st.binary(min_size=1, max_size=4096))
    return bytes(blob[: draw.draw(st.integers(0, len(blob) - 1))])


def _name(data: bytes) -> str:
    return data[_HEAD.size : _HEAD.size + data[_HEAD.size - 1]].decode()


def check_decoded(out: Audio, data: bytes) -> None:
    """What an accepted bitstream must decode to: the header's rate and length, finite, and
    no more samples than its container could honestly hold."""
    env = Envelope.unpack(data, _name(data))
    assert (out.rate, out.frames, out.channels) == (env.input_rate, env.input_frames, env.channels)
    assert np.isfinite(out.samples).all()


@fuzz(1500)
@given(name=st.sampled_from(PYAV_CODECS), draw=st.data())
def test_mutated_bitstreams_of_every_pyav_codec_decode_or_fail_cleanly(
    encoded: dict[str, bytes], name: str, draw: st.DataObject
) -> None:
    data = mutate(encoded[name], draw)
    try:
        out = get_codec(name).decode(data)
    except CodecError as exc:  # BitstreamError for bad bytes; CodecError for a bad decode
        assert str(exc)
        return
    check_decoded(out, data)


@fuzz(60)
@given(name=st.sampled_from(["mp3-cli", "twolame", "gsm", "codec2"]), draw=st.data())
def test_mutated_bitstreams_of_the_ffmpeg_binary_codecs_decode_or_fail_cleanly(
    name: str, draw: st.DataObject, cli_encoded: dict[str, bytes]
) -> None:
    # The binary backend pipes the container to ffmpeg; its arguments are a list built from
    # checked header fields, never a shell string (see test_no_shell.py).
    data = mutate(cli_encoded[name], draw)
    try:
        out = get_codec(name).decode(data)
    except CodecError as exc:
        assert str(exc)
        return
    check_decoded(out, data)


@pytest.fixture(scope="module")
def cli_encoded() -> dict[str, bytes]:
    require_binary("ffmpeg")
    audio = speech_like()
    return {n: Blob(get_codec(n).encode(audio, get_codec(n).ladder()[-1]).data)
            for n in ("mp3-cli", "twolame", "gsm", "codec2")}  # fmt: skip


def test_mp3_frames_switching_to_stereo_are_a_clear_error(encoded: dict[str, bytes]) -> None:
    # One MP3 frame header flipped from mono to stereo (as hypothesis found): the decoder's
    # output changed channel count mid-stream and numpy's concatenate raised a ValueError.
    data = encoded["mp3"]
    env = Envelope.unpack(data, "mp3")
    head, container = data[: len(data) - len(env.container)], env.container
    mono_headers = [i for i in range(len(container) - 3) if container[i] == 0xFF
                    and container[i + 1] & 0xE0 == 0xE0 and container[i + 3] >> 6 == 3]  # fmt: skip
    switched = 0
    for at in mono_headers[1:]:
        blob = bytearray(container)
        blob[at + 3] &= 0x3F  # channel mode 11 (mono) -> 00 (stereo)
        try:
            get_codec("mp3").decode(head + bytes(blob))
        except CodecError as exc:
            switched += "channel count changes" in str(exc)
    assert switched >= 1  # the case is exercised, and each one is a clear error


@pytest.mark.parametrize("name", PYAV_CODECS)
def test_a_header_claiming_hours_allocates_nothing_for_them(
    encoded: dict[str, bytes], name: str
) -> None:
    env = Envelope.unpack(encoded[name], name)
    # Ten hours claimed for a 0.5-s container, the two lengths consistent with each other.
    hours = (env.input_rate, 36_000 * env.input_rate, env.native_rate, 36_000 * env.native_rate)
    lying = envelope_bytes(name.encode(), 1, env.channels, (*hours, env.delay), env.container)
    tracemalloc.start()
    try:
        with pytest.raises(CodecError, match="decoder returned"):
            get_codec(name).decode(lying)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, f"{name}: {peak / 2**20:.0f} MB for a 0.5-s container"


# -- the example plug-in's decoder (codecs/mulaw.py) -------------------------------------------
MULAW_HEADER = struct.Struct(">4sHIQ")


@pytest.fixture(scope="module")
def mulaw() -> tuple[object, bytes]:
    codec = get_codec("mulaw")
    return codec, Blob(codec.encode(speech_like(), 64).data)


@fuzz(600)
@given(data=st.binary(max_size=256) | st.binary(max_size=64).map(lambda b: b"ULAW" + b))
def test_mulaw_random_bytes(mulaw: tuple, data: bytes) -> None:
    codec, _ = mulaw
    with pytest.raises(BitstreamError):
        codec.decode(data)


@fuzz(800)
@given(
    version=st.sampled_from([1, 1, 1, 0, 2, 65535]),
    rate=st.sampled_from([0, 999, 1000, 7999, 8000, 16000, 44100, 768_000, 768_001]) | U32,
    frames=st.sampled_from([0, 1, 2, 3, 100, 10**9, 2**63]) | U64,
    payload=st.binary(max_size=2048),
)
def test_mulaw_every_header_field_is_checked(
    mulaw: tuple, version: int, rate: int, frames: int, payload: bytes
) -> None:
    codec, _ = mulaw
    data = MULAW_HEADER.pack(b"ULAW", version, rate, frames) + payload
    try:
        out = codec.decode(data)
    except BitstreamError as exc:
        assert str(exc).startswith("mulaw: ")
        return
    assert (out.rate, out.frames) == (rate, frames) and np.isfinite(out.samples).all()
    # The header may only say what the payload holds: about one byte per 8-kHz sample.
    assert out.frames <= (len(payload) + 3) * rate / 8000


@fuzz(400)
@given(draw=st.data())
def test_mulaw_mutated_bitstreams(mulaw: tuple, draw: st.DataObject) -> None:
    codec, data = mulaw
    blob = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 8))):
        blob[draw.draw(st.integers(0, MULAW_HEADER.size + 8))] = draw.draw(st.integers(0, 255))
    blob = blob[: draw.draw(st.integers(0, len(blob)))]
    try:
        out = codec.decode(bytes(blob))
    except BitstreamError:
        return
    _, _, rate, frames = MULAW_HEADER.unpack_from(blob)
    assert (out.rate, out.frames) == (rate, frames) and np.isfinite(out.samples).all()


# -- run.json, as the list of runs reads it -----------------------------------------------------
#: Markup no escaped page can contain; the fuzzer puts it in every string it can.
EVIL = "<evil-tag onload=x>"
STRINGS = st.sampled_from([EVIL, f'"{EVIL}"', "é ß 日本", "\x00\x1b[31m", "", "2024-01-01T00:00"])
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | STRINGS
    | st.text(max_size=8).map(lambda t: t + EVIL)
)  # fmt: skip
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS | st.text(max_size=6),
                                                                  inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
KEYS = ("started", "command", "datasets", "codecs", "status", "timestamp", "argv", "started_at")


def run_json_text(draw: st.DataObject) -> bytes:
    kind = draw.draw(st.sampled_from(["object", "any", "bytes", "deep", "big_int"]))
    if kind == "object":  # the keys the list shows, with hostile values
        keys = draw.draw(st.lists(st.sampled_from(KEYS), max_size=len(KEYS), unique=True))
        value = {k: draw.draw(JSONISH) for k in keys}
    elif kind == "any":
        value = draw.draw(JSONISH)
    elif kind == "bytes":
        return draw.draw(st.binary(max_size=64))
    elif kind == "deep":  # deeper than Python's recursion limit
        depth = draw.draw(st.sampled_from([10, 5000, 100_000]))
        return ("[" * depth + "]" * depth).encode()
    else:
        return b'{"started": ' + b"9" * draw.draw(st.sampled_from([10, 5000])) + b"}"
    return json.dumps(value, allow_nan=True).encode()


@fuzz(400)
@given(draw=st.data())
def test_hostile_run_json_files_never_break_the_runs_list(
    tmp_path: Path, draw: st.DataObject
) -> None:
    from bench.report.html import update_index

    root = tmp_path / "reports"
    shutil.rmtree(root, ignore_errors=True)
    count = draw.draw(st.integers(1, 4))
    for i in range(count):
        folder = root / draw.draw(st.sampled_from([f"run{i}", f"{i} {EVIL}", f"{i} é'\""]))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "run.json").write_bytes(run_json_text(draw))
    page = update_index(root).read_text(encoding="utf-8")
    assert "<evil-tag" not in page  # escaped wherever it shows
    folders = {p.name for p in root.iterdir() if p.is_dir()}
    assert page.count("<tr>") == len(folders) + 1  # one row per run, plus the header


def test_a_huge_run_json_is_listed_as_unreadable_without_being_loaded(tmp_path: Path) -> None:
    from bench.report.html import MAX_RUN_JSON, update_index

    folder = tmp_path / "run"
    folder.mkdir()
    with (folder / "run.json").open("wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_RUN_JSON * 64)
    tracemalloc.start()
    try:
        page = update_index(tmp_path).read_text(encoding="utf-8")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "unreadable run.json: larger than 16 MiB" in page
    assert peak < MAX_RUN_JSON * 3


# -- the results store file ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def store_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from bench.store import ResultStore

    path = tmp_path_factory.mktemp("store") / "cache.sqlite"
    with ResultStore(path) as store:
        for i in range(40):
            fields = {"status": "ok", "actual_kbps": 12.0 + i, "bytes": 100 * i,
                      "params": {"native_rate": 48000, "i": i}}  # fmt: skip
            store.put(f"p{i}", fields, {"m": (float(i), "", "", 0.1), "n": (np.nan, "silent",
                                                                           "", None)})  # fmt: skip
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return Blob(path.read_bytes())


@fuzz(500)
@given(draw=st.data())
def test_a_damaged_results_store_is_a_clear_error(
    tmp_path: Path, store_bytes: bytes, draw: st.DataObject
) -> None:
    from bench.store import ResultStore, StoreError

    how = draw.draw(st.sampled_from(["flip", "flip", "cut", "random"]))
    blob = bytearray(store_bytes)
    if how == "flip":
        for _ in range(draw.draw(st.integers(1, 64))):
            blob[draw.draw(st.integers(0, len(blob) - 1))] = draw.draw(st.integers(0, 255))
    elif how == "cut":
        blob = blob[: draw.draw(st.integers(1, len(blob) - 1))]
    else:
        blob = bytearray(draw.draw(st.binary(min_size=1, max_size=2048)))
    path = tmp_path / f"cache-{draw.draw(st.integers(0, 10**9))}.sqlite"
    path.write_bytes(bytes(blob))
    keys = [f"p{i}" for i in range(40)]
    try:
        with ResultStore(path) as store:
            found = store.get_points(keys, {k: ["m", "n"] for k in keys})
            assert set(found) <= set(keys)
            store.put("new", {"status": "ok", "params": {}}, {"m": (1.0, "", "", None)})
    except StoreError as exc:
        assert str(path) in str(exc)


def test_a_results_store_of_another_kind_is_refused(tmp_path: Path) -> None:
    from bench.store import ResultStore, StoreError

    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:  # a valid SQLite file with a "points" table of its own
        db.execute("CREATE TABLE points (key TEXT)")
        db.execute("INSERT INTO points VALUES ('p0')")
    with pytest.raises(StoreError, match=r"not a usable results store|damaged"):  # noqa: SIM117
        with ResultStore(other) as store:
            store.get_points(["p0"], {})


# -- the download marker ------------------------------------------------------------------------
@fuzz(200)
@given(draw=st.data())
def test_a_damaged_download_marker_never_stops_anything(
    tmp_path: Path, draw: st.DataObject
) -> None:
    from bench.datasets.download import MARKER, _already_installed
    from bench.datasets.sources import get_source

    folder = tmp_path / "esc50"
    folder.mkdir(exist_ok=True)
    (folder / MARKER).write_bytes(run_json_text(draw))
    result = _already_installed(get_source("esc50"), folder, io.StringIO())
    assert result is not None and result.status == "already-downloaded"
    assert result.sha256 is None or isinstance(result.sha256, str)
