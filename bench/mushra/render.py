"""Rendering MUSHRA stimuli: excerpts, codec and anchor versions, loudness alignment, WAV files.

Every signal of an item is made from the *whole* clip (the codec encodes the whole clip as in the
run, the anchor filters the whole clip), then the same excerpt is cut from each, so no signal has
edge effects the others lack. Each excerpt gets the same short raised-cosine fade in and out
(so a looped or switched playback never clicks). Then every signal is brought to the same
integrated loudness (:mod:`bench.mushra.loudness`); when that would push any sample of the test
above the peak limit, one common gain lowers *every* signal of the test by the same amount
(reported in key.json), so relative levels stay aligned and nothing clips.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.audio import Audio
from bench.errors import BenchError

#: Default excerpt length (BS.1534-3: items of about 10 s; shorter clips are used whole).
DEFAULT_SECONDS = 10.0
#: Fade in/out at the ends of every excerpt.
FADE_S = 0.01
#: Default loudness target (EBU R 128 programme level) and sample-peak limit.
DEFAULT_TARGET_LUFS = -23.0
PEAK_LIMIT_DBFS = -1.0


def excerpt_window(audio: Audio, seconds: float, hop_s: float = 0.25) -> tuple[int, int]:
    """(start, frames) of the ``seconds`` long window with the most energy.

    A clip no longer than ``seconds`` is used whole (``(0, frames)``): short clips (ESC-50's are
    5 s) are not padded or concatenated, because splicing unrelated clips adds edges that are
    not in the material. Ties go to the earliest window."""
    frames = min(audio.frames, max(1, round(seconds * audio.rate)))
    if frames >= audio.frames:
        return 0, audio.frames
    power = np.sum(audio.samples.astype(np.float64) ** 2, axis=0)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    hop = max(1, round(hop_s * audio.rate))
    starts = np.arange(0, audio.frames - frames + 1, hop)
    energy = cumulative[starts + frames] - cumulative[starts]
    return int(starts[int(np.argmax(energy.round(9)))]), frames


def faded(audio: Audio, fade_s: float = FADE_S) -> Audio:
    """``audio`` with a raised-cosine fade of ``fade_s`` at both ends."""
    n = min(round(fade_s * audio.rate), audio.frames // 2)
    if n < 1:
        return audio
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)
    samples = audio.samples.astype(np.float64).copy()
    samples[:, :n] *= ramp
    samples[:, -n:] *= ramp[::-1]
    return Audio(samples.astype(np.float32), audio.rate)


def cut(audio: Audio, start: int, frames: int, fade_s: float = FADE_S) -> Audio:
    """The faded excerpt ``start:start+frames`` of ``audio``."""
    if audio.frames < start + frames:
        raise BenchError(f"signal has {audio.frames} frames, excerpt needs {start + frames}")
    return faded(audio.segment(start, start + frames), fade_s)


@dataclass(frozen=True)
class LoudnessPlan:
    """Gains (dB) that align every signal's loudness, after the common headroom gain."""

    target_lufs: float
    headroom_db: float
    peak_limit_dbfs: float
    gains_db: Mapping[str, float]
    loudness_lufs: Mapping[str, float]
    peak_dbfs: float


def _peak_db(audio: Audio) -> float:
    peak = float(np.max(np.abs(audio.samples)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def plan_loudness(
    signals: Mapping[str, Audio],
    target_lufs: float = DEFAULT_TARGET_LUFS,
    peak_limit_dbfs: float = PEAK_LIMIT_DBFS,
) -> LoudnessPlan:
    """Gains bringing every signal to ``target_lufs``, lowered together so that the loudest
    sample of all stays at or below ``peak_limit_dbfs``. A silent signal is an error."""
    from bench.mushra.loudness import integrated_loudness

    loudness: dict[str, float] = {}
    for key, audio in signals.items():
        value = integrated_loudness(audio)
        if not math.isfinite(value):
            raise BenchError(f"{key}: silent signal (no block above -70 LUFS), cannot align it")
        loudness[key] = value
    raw = {key: target_lufs - loudness[key] for key in signals}
    peak = max(_peak_db(audio) + raw[key] for key, audio in signals.items())
    headroom = min(0.0, peak_limit_dbfs - peak)
    gains = {key: raw[key] + headroom for key in signals}
    return LoudnessPlan(
        target_lufs=target_lufs + headroom,
        headroom_db=headroom,
        peak_limit_dbfs=peak_limit_dbfs,
        gains_db=gains,
        loudness_lufs=loudness,
        peak_dbfs=peak + headroom,
    )


def apply_gain(audio: Audio, gain_db: float) -> Audio:
    """``audio`` scaled by ``gain_db``."""
    return Audio(
        (audio.samples.astype(np.float64) * 10 ** (gain_db / 20)).astype(np.float32), audio.rate
    )


def write_wav(path: Path, audio: Audio) -> bytes:
    """16-bit PCM WAV at ``path`` (atomic); returns the bytes written."""
    from bench.audio import save_audio

    save_audio(path, audio, subtype="PCM_16")
    return path.read_bytes()


def same_shape(signals: Sequence[Audio]) -> bool:
    """True when every signal has the same rate, channels and length."""
    shapes = {(a.rate, a.channels, a.frames) for a in signals}
    return len(shapes) <= 1
