"""The one audio value that travels through the suite, and reading/writing it.

:class:`Audio` holds float32 samples shaped ``(channels, frames)`` and an integer sample rate.
Everything is checked where the value is built, so code that receives an ``Audio`` never has to
wonder whether the axes are swapped (the bug that sank the original NAMC note), whether samples
are integers in disguise, or whether a NaN is hiding in them.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import AudioError

#: More channels than this is taken as a transposed ``(frames, channels)`` array, not real audio.
MAX_CHANNELS = 64

#: The resampler every part of the suite uses; recorded in results so a rerun can be compared.
RESAMPLER_QUALITY = "HQ"


def resampler_description() -> str:
    """Name and version of the resampler, e.g. ``"soxr 0.5.0 HQ"``, for run metadata."""
    import soxr

    return f"soxr {getattr(soxr, '__version__', '?')} {RESAMPLER_QUALITY}"


@dataclass(frozen=True, eq=False)
class Audio:
    """Immutable audio: ``samples`` float32 ``(channels, frames)`` and ``rate`` in Hz.

    A 1-D array is taken as mono. Construction copies the samples, makes the copy read-only and
    rejects: non-floating dtypes (use :meth:`from_pcm` for integers), more than 2 dimensions,
    more than :data:`MAX_CHANNELS` channels, zero channels or frames, non-finite values, and a
    rate that is not a positive integer.
    """

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        raw = np.asarray(self.samples)
        if raw.dtype == object or not np.issubdtype(raw.dtype, np.floating):
            raise AudioError(
                f"samples must be floating point in [-1, 1], got dtype {raw.dtype}; "
                "use Audio.from_pcm for integer PCM"
            )
        if raw.ndim == 1:
            raw = raw[np.newaxis, :]
        elif raw.ndim != 2:
            raise AudioError(f"samples must be 1-D or 2-D (channels, frames), got {raw.ndim}-D")
        channels, frames = raw.shape
        if channels > MAX_CHANNELS:
            raise AudioError(
                f"samples have shape {raw.shape}: {channels} channels is more than "
                f"{MAX_CHANNELS}; the layout is (channels, frames) - transpose a "
                "(frames, channels) array first"
            )
        if channels == 0 or frames == 0:
            raise AudioError(f"audio is empty: shape {raw.shape}")
        rate = self.rate
        if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, (int, np.integer, float)):
            raise AudioError(f"sample rate must be a positive integer, got {rate!r}")
        if isinstance(rate, float) and not (np.isfinite(rate) and rate.is_integer()):
            raise AudioError(f"sample rate must be a positive integer, got {rate!r}")
        if int(rate) <= 0:
            raise AudioError(f"sample rate must be positive, got {rate!r}")
        with np.errstate(over="ignore"):
            samples = np.array(raw, dtype=np.float32, order="C", copy=True)
        bad = np.size(samples) - int(np.count_nonzero(np.isfinite(samples)))
        if bad:
            raise AudioError(f"audio has {bad} non-finite sample(s) (NaN or inf)")
        samples.setflags(write=False)
        object.__setattr__(self, "samples", samples)
        object.__setattr__(self, "rate", int(rate))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_pcm(cls, pcm: np.ndarray, rate: int) -> Audio:
        """Build from integer PCM ``(channels, frames)`` or 1-D, scaled to [-1, 1)."""
        pcm = np.asarray(pcm)
        if pcm.dtype == np.uint8:  # 8-bit WAV is unsigned with 128 as zero
            return cls((pcm.astype(np.float32) - 128.0) / 128.0, rate)
        if not np.issubdtype(pcm.dtype, np.signedinteger):
            raise AudioError(f"from_pcm needs signed integers or uint8, got {pcm.dtype}")
        scale = float(2 ** (8 * pcm.dtype.itemsize - 1))
        return cls(pcm.astype(np.float64) / scale, rate)

    # -- properties ---------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        """Number of channels."""
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        """Number of samples per channel."""
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.rate

    @property
    def peak(self) -> float:
        """Largest absolute sample value."""
        return float(np.max(np.abs(self.samples)))

    def is_silent(self, threshold: float = 0.0) -> bool:
        """True when no sample's magnitude exceeds ``threshold`` (digital silence by default)."""
        return self.peak <= threshold

    def content_hash(self) -> str:
        """SHA-256 of rate, shape and sample bytes: identifies the audio, not where it came from."""
        digest = hashlib.sha256()
        digest.update(f"{self.rate}:{self.channels}:{self.frames}:".encode())
        digest.update(self.samples.tobytes())
        return digest.hexdigest()

    def __repr__(self) -> str:
        return (
            f"Audio(channels={self.channels}, frames={self.frames}, rate={self.rate}, "
            f"duration={self.duration:.3f}s)"
        )

    # -- conversions --------------------------------------------------------------------------
    def resample(self, rate: int) -> Audio:
        """Return this audio at ``rate`` (soxr, high quality, zero-delay whole-signal mode).

        The output has ``round(frames * rate / self.rate)`` frames (soxr's own rounding).
        """
        rate = int(rate)
        if rate <= 0:
            raise AudioError(f"target sample rate must be positive, got {rate}")
        if rate == self.rate:
            return self
        import soxr

        # soxr wants (frames, channels); it keeps float32 in and out.
        out = soxr.resample(self.samples.T, self.rate, rate, quality=RESAMPLER_QUALITY)
        if out.shape[0] == 0:
            raise AudioError(
                f"{self.frames} frame(s) at {self.rate} Hz is too short to resample to {rate} Hz"
            )
        return Audio(np.ascontiguousarray(out.T), rate)

    def to_channels(self, channels: int) -> Audio:
        """Convert the channel count.

        Rule: many to mono averages the channels; mono to many copies the channel; any other
        change is refused (there is no single right downmix from e.g. 5.1 to stereo).
        """
        if channels == self.channels:
            return self
        if channels == 1:
            return Audio(self.samples.mean(axis=0, dtype=np.float64), self.rate)
        if self.channels == 1 and 1 <= channels <= MAX_CHANNELS:
            return Audio(np.repeat(self.samples, channels, axis=0), self.rate)
        raise AudioError(f"cannot convert {self.channels} channels to {channels}")

    def mono(self) -> Audio:
        """Average of the channels (see :meth:`to_channels`)."""
        return self.to_channels(1)

    def with_frames(self, frames: int) -> Audio:
        """Cut to, or zero-pad at the end to, exactly ``frames`` frames."""
        if frames <= 0:
            raise AudioError(f"frame count must be positive, got {frames}")
        if frames == self.frames:
            return self
        if frames < self.frames:
            return Audio(self.samples[:, :frames], self.rate)
        pad = np.zeros((self.channels, frames - self.frames), dtype=np.float32)
        return Audio(np.concatenate([self.samples, pad], axis=1), self.rate)

    def segment(self, start: int, stop: int) -> Audio:
        """Frames ``start:stop`` (clamped to the signal) as a new value."""
        start, stop = max(0, start), min(self.frames, stop)
        if stop <= start:
            raise AudioError(f"empty segment {start}:{stop} of {self.frames} frames")
        return Audio(self.samples[:, start:stop], self.rate)

    def to_pcm16(self) -> np.ndarray:
        """Interleaved-free int16 ``(channels, frames)``, clipped to the int16 range."""
        scaled = np.round(self.samples.astype(np.float64) * 32768.0)
        return np.clip(scaled, -32768, 32767).astype(np.int16)


# -- reading ----------------------------------------------------------------------------------
def load_audio(path: str | os.PathLike[str]) -> Audio:
    """Read any file soundfile (libsndfile) or PyAV (FFmpeg) can decode.

    WAV of 8/16/24/32-bit integer or float, FLAC and Ogg go through soundfile; MP3 (whose length
    libsndfile only estimates) and what it cannot read (AAC/M4A, Opus in some builds, AMR, ...)
    are decoded with PyAV. A file shorter than its own header declares (WAV, AIFF, AU, CAF,
    W64, RF64, FLAC) is refused as truncated. Every failure is an :class:`AudioError` whose
    message starts with the path and says why.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    size = path.stat().st_size
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        samples, rate = _read_soundfile(path)
    except _NotForSoundfile as sf_error:
        try:
            samples, rate = _read_pyav(path.read_bytes())
        except AudioError as av_error:
            what = "not a readable audio file"
            if sf_error.declared is not None:  # a valid header, then data no library can read
                what = "truncated or corrupt: the data after its header cannot be decoded"
            raise AudioError(f"{path}: {what} ({sf_error}; FFmpeg: {av_error})") from None
        # libsndfile read the header but not the samples; FFmpeg decodes what is there, which
        # must still be all the header declares (libsndfile fails this way on a cut FLAC).
        _check_complete(path, sf_error.declared, samples.shape[1], f" ({sf_error})")
    try:
        return Audio(samples, rate)
    except AudioError as exc:
        raise AudioError(f"{path}: {exc}") from None


def decode_audio_bytes(data: bytes, format: str | None = None) -> Audio:
    """Decode an in-memory file with PyAV (first audio stream), as float32."""
    samples, rate = _read_pyav(data, format)
    return Audio(samples, rate)


class _NotForSoundfile(Exception):
    """libsndfile cannot read the file; ``declared`` is the frame count its header gave when
    libsndfile could open it but not read the samples."""

    def __init__(self, message: str, declared: int | None = None) -> None:
        super().__init__(message)
        self.declared = declared


#: Frames read per call. Reading in blocks keeps memory proportional to what the file holds:
#: a header's frame count is untrusted (a corrupt FLAC STREAMINFO can claim 2**36 frames, and
#: one read of "all frames" would allocate 256 GiB before reading anything).
_READ_BLOCK = 1 << 20
#: libsndfile's frame count for a stream of unknown length (SF_COUNT_MAX).
_UNKNOWN_FRAMES = 2**63 - 1


#: libsndfile formats whose header states the exact length (sample or byte counts).
_EXACT_LENGTH = frozenset({"WAV", "WAVEX", "W64", "RF64", "AIFF", "AU", "CAF", "FLAC"})


def _check_complete(path: Path, declared: int | None, frames: int, why: str = "") -> None:
    """Refuse a file that ends before the length its own header declares: it lost its tail
    (an interrupted copy or download), and scoring the rest as the clip would hide that."""
    if declared is not None and frames < declared < _UNKNOWN_FRAMES:
        raise AudioError(
            f"{path}: truncated or corrupt: the header declares {declared} frames, "
            f"{frames} could be decoded{why}"
        )


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    errors = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)
    try:
        handle = sf.SoundFile(str(path))
    except errors as exc:
        raise _NotForSoundfile(_libsndfile_message(exc, path)) from None
    blocks: list[np.ndarray] = []
    with handle:
        rate, declared, kind = handle.samplerate, handle.frames, handle.format
        if kind in ("MP3", "MPEG"):
            # libsndfile estimates an MP3's length (from the first frame's bitrate when there is
            # no Xing header) and stops reading there: a 5-s VBR file loaded as 0.6 s. FFmpeg
            # reads to the end.
            raise _NotForSoundfile("libsndfile: not used for MP3")
        if kind not in _EXACT_LENGTH:
            declared = None  # a count we cannot hold the file to
        while True:
            try:
                block = handle.read(_READ_BLOCK, dtype="float32", always_2d=True)
            except errors as exc:
                raise _NotForSoundfile(_libsndfile_message(exc, path), declared) from None
            if not len(block):
                break
            blocks.append(block)
    frames = sum(len(block) for block in blocks)
    if frames == 0:
        raise AudioError(f"{path}: contains no samples")
    _check_complete(path, declared, frames)
    missing = _wav_missing_bytes(path)
    if missing:
        raise AudioError(
            f"{path}: truncated: the WAV data chunk declares {missing[0]} bytes, the file holds "
            f"{missing[1]}"
        )
    return np.concatenate(blocks).T, int(rate)


def _libsndfile_message(exc: Exception, path: Path) -> str:
    """libsndfile's message without the file's name, which our messages already start with
    ("Error opening '/x/y.wav': Format not recognised." -> "Format not recognised.")."""
    text = str(exc).replace(f"Error opening '{path}': ", "").replace(str(path), "the file")
    return f"libsndfile: {text}"


#: A WAV data length at or above this is a placeholder of a writer that could not seek back
#: (0xFFFFFFFF, 0x7FFFFFFF, sox's 0x7FFFF000, ...), not a claim about the file.
_WAV_PLACEHOLDER = 0x7F000000


def _wav_missing_bytes(path: Path) -> tuple[int, int] | None:
    """(declared, present) byte counts of a RIFF/WAVE file's data chunk when the file ends
    before the chunk does; ``None`` otherwise.

    libsndfile quietly clamps a too-long data chunk to the file's size, so a WAV cut short
    would otherwise load as a shorter clip.
    """
    import struct

    try:
        with path.open("rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
                return None
            size = os.fstat(handle.fileno()).st_size
            position = 12
            for _ in range(64):  # real files carry a handful of chunks before the data
                handle.seek(position)
                header = handle.read(8)
                if len(header) < 8:
                    return None
                chunk, length = struct.unpack("<4sI", header)
                if chunk == b"data":
                    present = size - position - 8
                    if 0 < length < _WAV_PLACEHOLDER and present < length:
                        return length, present
                    return None
                position += 8 + length + (length & 1)
    except OSError:
        return None
    return None


def _read_pyav(data: bytes, format: str | None = None) -> tuple[np.ndarray, int]:
    import av

    chunks: list[np.ndarray] = []
    rate = 0
    try:
        with av.open(io.BytesIO(data), mode="r", format=format) as container:
            if not container.streams.audio:
                raise AudioError("no audio stream")
            stream = container.streams.audio[0]
            resampler: av.AudioResampler | None = None
            for frame in container.decode(stream):
                if resampler is None:
                    rate = frame.sample_rate
                    resampler = av.AudioResampler(
                        format="fltp", layout=frame.layout, rate=frame.sample_rate
                    )
                for converted in resampler.resample(frame):
                    chunks.append(converted.to_ndarray())
            if resampler is not None:
                for converted in resampler.resample(None):
                    chunks.append(converted.to_ndarray())
    except AudioError:
        raise
    except av.error.FFmpegError as exc:
        # "[Errno 1094995529] Invalid data found ...: '<none>'" -> "Invalid data found ..."
        raise AudioError(exc.strerror or type(exc).__name__) from None
    except (ValueError, EOFError) as exc:
        raise AudioError(str(exc).strip() or type(exc).__name__) from None
    if not chunks:
        raise AudioError("contains no audio samples")
    channels = sorted({chunk.shape[0] for chunk in chunks})
    if len(channels) > 1:  # e.g. MP3 frames switching mono/stereo (concatenated or corrupt)
        raise AudioError(f"the channel count changes within the stream ({channels})")
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), int(rate)


# -- writing ----------------------------------------------------------------------------------
_SUBTYPES = {"PCM_16", "PCM_24", "PCM_32", "FLOAT"}


def save_audio(path: str | os.PathLike[str], audio: Audio, subtype: str = "FLOAT") -> Path:
    """Write ``audio`` to ``path`` (WAV or FLAC by extension), atomically.

    ``FLOAT`` (32-bit float WAV) keeps decoded audio exactly, including overs beyond +-1; integer
    subtypes clip to the range first rather than let libsndfile wrap around.
    """
    import soundfile as sf

    from bench.fsutil import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".wav", ".flac"):
        raise AudioError(f"{path}: can only write .wav or .flac")
    if subtype not in _SUBTYPES:
        raise AudioError(f"unknown subtype {subtype!r}; valid: {', '.join(sorted(_SUBTYPES))}")
    if suffix == ".flac" and subtype in ("FLOAT", "PCM_32"):
        subtype = "PCM_24"
    samples = audio.samples.T
    if subtype != "FLOAT":
        samples = np.clip(samples, -1.0, 1.0)
    fmt = "WAV" if suffix == ".wav" else "FLAC"
    # Encode in memory, then write the bytes in one call: libsndfile writes a file object
    # through a callback that swallows the file's OSError (a full disk surfaced as a bare
    # AssertionError from soundfile); one plain write raises the OSError itself.
    buffer = io.BytesIO()
    sf.write(buffer, samples, audio.rate, subtype=subtype, format=fmt)
    atomic_write_bytes(path, buffer.getvalue())
    return path
