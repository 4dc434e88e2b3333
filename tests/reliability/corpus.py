"""The bad-input corpus: files a benchmark meets when nobody inspected its data, built in a tmp
folder by the tests (never committed).

:func:`build_corpus` writes every case into a folder and returns the cases, each with what the
run must make of it. The good clips are real LibriSpeech utterances (copied, never modified) so
the perceptual metrics have speech to score.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

#: Real utterances used as good clips (test-clean, 16 kHz FLAC), chosen short (2-3 s).
GOOD_UTTERANCES = ("1089-134691-0000.flac", "3005-163389-0004.flac")
#: The utterance cut in half for the truncated-FLAC case.
TRUNCATED_SOURCE = "1089-134686-0000.flac"
#: A file name with spaces, both quotes, markup and non-ASCII letters (content: good speech);
#: no ``/``, which no file name can hold.
HOSTILE_NAME = (
    "it's a \"clip\" <script>alert('x')<script> <img src=x onerror=alert(1)> é ß 日本.flac"
)
#: An empty file with markup in its name: its error message (which names it) reaches the page.
HOSTILE_BAD_NAME = "<b onmouseover=alert(2)>bad.wav"


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what a run must make of it.

    ``expect`` is ``"input"`` (every row ``status=error``, ``error_kind=input``, the message
    containing ``message``) or ``"ok"`` (the file is valid: every codec that can take it scores
    it; ``channels`` tells how many channels it has, since mono-only codecs refuse more).
    ``reasons`` maps metric -> the NaN reason every ok row must carry for it.
    """

    name: str
    expect: str
    message: str = ""
    channels: int = 1
    reasons: tuple[tuple[str, str], ...] = ()
    good: bool = False  # an unremarkable real clip: scored exactly as in a run without the rest


def _speech(librispeech: Path, name: str) -> Path:
    found = sorted(librispeech.glob(f"*/*/*/{name}"))
    assert found, f"{name} missing under {librispeech}"
    return found[0]


def _real_speech(librispeech: Path, seconds: float) -> np.ndarray:
    """``seconds`` of real 16 kHz speech: LibriSpeech utterances (not the good clips)
    one after the other, as float32 ``(frames,)``."""
    parts, total = [], 0
    for path in sorted(librispeech.glob("*/*/*/*.flac")):
        if path.name in GOOD_UTTERANCES:
            continue
        samples, rate = sf.read(path, dtype="float32")
        assert rate == 16000
        parts.append(samples)
        total += samples.size
        if total >= seconds * 16000:
            break
    speech = np.concatenate(parts)
    assert speech.size >= seconds * 16000, "not enough LibriSpeech speech"
    return speech[: round(seconds * 16000)]


def _channels(mono: np.ndarray, count: int) -> np.ndarray:
    """``count`` different channels from one: each a little later and quieter, ``(frames, n)``."""
    return np.stack([np.roll(mono, 23 * c) * (1 - 0.1 * c) for c in range(count)], axis=1)


def build_corpus(folder: Path, librispeech: Path, *, with_bad: bool = True) -> list[Case]:
    """Write the corpus into ``folder`` (created) and return its cases.

    With ``with_bad=False`` only the good clips are written, under the same names: the baseline
    run the good rows of the full run are compared with.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(case: Case, write: Callable[[Path], object]) -> None:
        write(folder / case.name)
        cases.append(case)

    for index, utterance in enumerate(GOOD_UTTERANCES):
        source = _speech(librispeech, utterance)
        add(Case(f"good{index}.flac", "ok", good=True), lambda p, s=source: shutil.copy(s, p))
    source = _speech(librispeech, GOOD_UTTERANCES[0])
    add(Case(HOSTILE_NAME, "ok", good=True), lambda p: shutil.copy(source, p))
    if not with_bad:
        return cases

    speech = _real_speech(librispeech, 60.0)
    two = speech[16000:48000]  # 2 s

    # -- unreadable or invalid files: every row an input error naming the file ----------------
    add(Case("empty.wav", "input", "empty file (0 bytes)"), lambda p: p.write_bytes(b""))
    add(Case(HOSTILE_BAD_NAME, "input", "empty file (0 bytes)"), lambda p: p.write_bytes(b""))
    wav = _wav_bytes(two, 16000, "PCM_16")
    add(Case("truncated_header.wav", "input", "not a readable audio file"),
        lambda p: p.write_bytes(wav[:30]))  # fmt: skip
    add(Case("truncated_data.wav", "input", "truncated: the WAV data chunk declares 64000 bytes"),
        lambda p: p.write_bytes(wav[: len(wav) * 2 // 3]))  # fmt: skip
    flac = _speech(librispeech, TRUNCATED_SOURCE).read_bytes()
    add(Case("truncated.flac", "input", "truncated or corrupt"),
        lambda p: p.write_bytes(flac[: len(flac) // 2]))  # fmt: skip
    add(Case("truncated_at_frame.flac", "input", "truncated or corrupt: the header declares"),
        lambda p: p.write_bytes(_cut_at_frame(flac)))  # fmt: skip
    text = "this is not audio, just a text file named .wav\n" * 20
    add(Case("text.wav", "input", "not a readable audio file"), lambda p: p.write_text(text))
    nan = two.copy()
    nan[100:110] = np.nan
    add(Case("nan.wav", "input", "10 non-finite"), lambda p: sf.write(p, nan, 16000, "FLOAT"))
    inf = two.copy()
    inf[5000], inf[6000] = np.inf, -np.inf
    add(Case("inf.wav", "input", "2 non-finite"), lambda p: sf.write(p, inf, 16000, "FLOAT"))

    # -- valid but unusual: scored, or refused per codec with a reason ------------------------
    add(Case("pcm24.wav", "ok"), lambda p: sf.write(p, two, 16000, "PCM_24"))
    add(Case("pcm8.wav", "ok"), lambda p: sf.write(p, two, 16000, "PCM_U8"))
    add(Case("stereo.wav", "ok", channels=2),
        lambda p: sf.write(p, _channels(two, 2), 16000, "PCM_16"))  # fmt: skip
    add(Case("six_channels.wav", "ok", channels=6),
        lambda p: sf.write(p, _channels(two, 6), 16000, "PCM_16"))  # fmt: skip
    add(Case("rate8k.wav", "ok"),
        lambda p: sf.write(p, soxr.resample(two, 16000, 8000), 8000, "PCM_16"))  # fmt: skip
    add(Case("rate96k.wav", "ok"),
        lambda p: sf.write(p, soxr.resample(two, 16000, 96000), 96000, "PCM_16"))  # fmt: skip
    add(Case("short_0.05s.wav", "ok", reasons=(("pesq_wb", "too_short"), ("stoi", "too_short"),
                                                ("visqol_speech", "too_short"))),
        lambda p: sf.write(p, two[8000:8800], 16000, "PCM_16"))  # fmt: skip
    add(Case("long_60s.wav", "ok"), lambda p: sf.write(p, speech, 16000, "PCM_16"))
    add(Case("silence.wav", "ok", reasons=(("snr", "silent"), ("pesq_wb", "silent"),
                                            ("stoi", "silent"), ("visqol_speech", "silent"))),
        lambda p: sf.write(p, np.zeros(32000, np.float32), 16000, "PCM_16"))  # fmt: skip
    t = np.arange(32000) / 16000
    square = np.where(np.sin(2 * np.pi * 200 * t) >= 0, 1.0, -1.0)
    # Full scale both ways: +1.0 is clipped to 32767 by the writer, as a clipping recorder does.
    add(Case("clipped_square.wav", "ok"), lambda p: sf.write(p, square, 16000, "PCM_16"))
    return cases


def _cut_at_frame(flac: bytes) -> bytes:
    """``flac`` cut just before a frame near its middle: a decoder reads every frame left
    cleanly, so only the header's length tells that the tail is missing."""
    from bench.audio import decode_audio_bytes
    from bench.errors import AudioError

    at = flac.find(b"\xff\xf8", len(flac) // 2)  # a frame sync code (fixed block size)
    while at != -1:
        try:  # FFmpeg decodes every frame left only when the cut is between frames
            decode_audio_bytes(flac[:at], "flac")
            return flac[:at]
        except AudioError:
            at = flac.find(b"\xff\xf8", at + 2)
    raise AssertionError("no frame boundary found")


def _wav_bytes(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    import io

    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, subtype, format="WAV")
    return buffer.getvalue()
