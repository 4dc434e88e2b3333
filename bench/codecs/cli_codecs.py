"""Codecs run through the ``ffmpeg`` binary: encoders the PyAV wheel lacks, and a cross-check.

Debian's ``ffmpeg`` package links libcodec2, libgsm and libtwolame, which the PyAV wheel does
not carry. Each encode and decode is one ``ffmpeg`` process fed through pipes; arguments are
always a list (never a shell string), so no file name or option from data reaches a shell.
Payload bytes are counted by demuxing the output with PyAV and summing the packet sizes.

``mp3-cli`` encodes the same MP3 as the in-process ``mp3`` codec but writes no LAME/Xing tag,
as many tools do, so the decoder's full 576 + 529 = 1105-sample delay stays in the stream and
the adapter removes it; tests compare the two backends on the same clips.

Codec2 delays are per mode, measured on the 10-ms power envelope of speech (median over the 86
LibriSpeech utterances in the test data; 10th-90th percentile within about +-3 ms, +-4 ms for
700C): codec2 is a parametric vocoder whose output waveform does not follow the input's, so no
waveform lag exists to measure.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess

import numpy as np

from bench.audio import Audio
from bench.codecs import CODECS
from bench.codecs.base import Bitrates
from bench.codecs.ffmpeg_common import (
    Envelope,
    FFmpegCodec,
    FFmpegSpec,
    NativeEncoding,
    lame_sample_rate,
    to_sample_format,
)
from bench.codecs.pyav_codecs import MP2_KBPS
from bench.codecs.pyav_codecs import SPECS as PYAV_SPECS
from bench.errors import BitstreamError, CodecError, CodecUnavailable

#: Bump when the adapter's behaviour (and so its output) changes.
ADAPTER_VERSION = "1"
#: Longest one ffmpeg process may run (an hour: far beyond any clip's encode or decode).
MAX_TIMEOUT_S = 3600.0
#: Formats the ffmpeg binary writes under one name and reads under another.
BINARY_DEMUXERS = {"adts": "aac", "mp2": "mp3"}
#: Environment variable naming the ffmpeg binary (default: ``ffmpeg`` on PATH).
FFMPEG_ENV = "BENCH_FFMPEG"

_CODEC2_MODES = {3.2: "3200", 2.4: "2400", 1.6: "1600", 1.4: "1400", 1.3: "1300", 1.2: "1200",
                 0.7: "700C"}  # fmt: skip
_CODEC2_DELAY = {"3200": 165, "2400": 162, "1600": 170, "1400": 168, "1300": 171, "1200": 169,
                 "700C": 250}  # fmt: skip


def _codec2_mode(kbps: float | None) -> str:
    for value, mode in _CODEC2_MODES.items():
        if kbps is not None and abs(kbps - value) < 1e-6:
            return mode
    raise CodecError(f"codec2 has no mode for {kbps} kbps")


_MP3 = next(spec for spec in PYAV_SPECS if spec.name == "mp3")

SPECS: tuple[FFmpegSpec, ...] = (
    FFmpegSpec(
        name="codec2",
        description="Codec 2 (libcodec2 via the ffmpeg binary, 8 kHz parametric speech vocoder)",
        encoder="libcodec2",
        container="codec2",
        sample_fmt="s16",
        native_rates=(8000,),
        bitrates=Bitrates(ladder=(0.7, 1.2, 1.6, 2.4, 3.2), allowed=tuple(sorted(_CODEC2_MODES))),
        delay=lambda kbps, rate: _CODEC2_DELAY[_codec2_mode(kbps)],
        domain="speech",
        rate_tolerance=0.20,  # 700C packs 28 bits per 40 ms into 4 bytes: 0.8 kbps measured
        waveform=False,
        envelope_lag_tolerance_s=0.012,  # worst utterances: +-9 ms, 700C +-14 ms
        rate_options=lambda kbps: {"mode": _codec2_mode(kbps)},
    ),
    FFmpegSpec(
        name="gsm",
        description="GSM 06.10 full rate (libgsm via the ffmpeg binary, 8 kHz, 13 kbps)",
        encoder="libgsm",
        container="gsm",
        sample_fmt="s16",
        native_rates=(8000,),
        bitrates=Bitrates(ladder=(13,), allowed=(13,)),
        delay=0,
        domain="speech",
        rate_tolerance=0.03,  # 33-byte frames every 20 ms: 13.2 kbps
        lag_tolerance=1,
    ),
    FFmpegSpec(
        name="twolame",
        description="MPEG-1/2 Layer II with the twolame encoder (ffmpeg binary); not in 'all'",
        encoder="libtwolame",
        container="mp2",
        demuxer="mp3",
        sample_fmt="s16",
        native_rates=(16000, 22050, 24000, 32000, 44100, 48000),
        bitrates=Bitrates(ladder=(32, 48, 64, 96, 128, 160), allowed=MP2_KBPS),
        delay=481,
        rate_tolerance=0.05,
        primary=False,
    ),
    FFmpegSpec(
        name="mp3-cli",
        description="MP3 through the ffmpeg binary with no LAME tag (cross-check); not in 'all'",
        encoder="libmp3lame",
        container="mp3",
        sample_fmt="s16p",
        native_rates=_MP3.native_rates,
        bitrates=_MP3.bitrates,
        delay=1105,
        rate_tolerance=_MP3.rate_tolerance,
        muxer_options={"id3v2_version": "0", "write_id3v1": "0", "write_xing": "0"},
        pick_rate=lame_sample_rate,
        primary=False,
    ),
)


def ffmpeg_path() -> str | None:
    """Path of the ffmpeg binary (``$BENCH_FFMPEG`` or ``ffmpeg`` on PATH), or None."""
    return shutil.which(os.environ.get(FFMPEG_ENV, "ffmpeg"))


@functools.lru_cache(maxsize=8)
def _capabilities(binary: str) -> tuple[str, frozenset[str], frozenset[str]]:
    """(version line, encoder names, muxer names) of an ffmpeg binary."""

    def listing(flag: str) -> frozenset[str]:
        out = subprocess.run(
            [binary, "-hide_banner", flag], capture_output=True, text=True, timeout=30, check=False
        ).stdout
        names = set()
        for line in out.splitlines():
            parts = line.split()
            # Rows look like " A....D libcodec2  codec2 encoder" or "  E mp3  MP3 (MPEG...)".
            if len(parts) >= 2 and set(parts[0]) <= set("VASFXBDEd.") and parts[0] != "--":
                names.update(parts[1].split(","))
        return frozenset(names)

    version = subprocess.run(
        [binary, "-hide_banner", "-version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.splitlines()
    return (
        (version[0] if version else "ffmpeg (unknown version)"),
        listing("-encoders"),
        listing("-muxers"),
    )


class FFmpegCliCodec(FFmpegCodec):
    """An :class:`FFmpegSpec` run by the ``ffmpeg`` binary through pipes."""

    backend = "ffmpeg-cli"

    def availability(self) -> tuple[bool, str]:
        binary = ffmpeg_path()
        if binary is None:
            return False, "no ffmpeg binary on PATH (Debian/Ubuntu: apt-get install ffmpeg)"
        try:
            _, encoders, muxers = _capabilities(binary)
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"cannot run {binary}: {exc}"
        if self.spec.encoder not in encoders:
            return False, f"{binary} has no {self.spec.encoder} encoder"
        if self.spec.container not in muxers:
            return False, f"{binary} has no {self.spec.container} muxer"
        return True, ""

    def version(self) -> str:
        binary = ffmpeg_path()
        line = _capabilities(binary)[0] if binary else "ffmpeg missing"
        return f"cli-adapter {ADAPTER_VERSION}; {line}"

    def _run(self, args: list[str], data: bytes, seconds: float) -> bytes:
        binary = ffmpeg_path()
        if binary is None:
            raise CodecUnavailable(f"{self.name}: no ffmpeg binary on PATH")
        # Generous, but bounded: a hung process must not stall a run. ``seconds`` comes from a
        # header when decoding, so it is capped (a lie of 10**10 frames overflowed the timer).
        timeout = min(30.0 + 10.0 * seconds, MAX_TIMEOUT_S)
        command = [binary, "-hide_banner", "-nostdin", "-loglevel", "error", *args]
        try:
            proc = subprocess.run(command, input=data, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CodecError(f"{self.name}: ffmpeg did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise CodecUnavailable(f"{self.name}: cannot run {binary}: {exc}") from None
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = message[-1] if message else f"exit status {proc.returncode}"
            raise CodecError(f"{self.name}: ffmpeg failed: {detail}")
        return proc.stdout

    def _encode_native(
        self, samples: np.ndarray, rate: int, kbps: float | None, bits: int | None
    ) -> NativeEncoding:
        spec = self.spec
        channels = samples.shape[0]
        packed = spec.sample_fmt.rstrip("p")
        # Quantise here, exactly as the in-process backend does, and send interleaved PCM.
        pcm = to_sample_format(samples, packed, bits)
        raw_format = {"s16": "s16le", "s32": "s32le", "flt": "f32le"}[packed]
        args = ["-f", raw_format, "-ar", str(rate), "-ac", str(channels), "-i", "pipe:0"]
        args += ["-c:a", spec.encoder]
        options = dict(spec.encoder_options)
        if kbps is not None and spec.rate_options is not None:
            options.update(spec.rate_options(kbps))
        elif kbps is not None:
            args += ["-b:a", str(round(kbps * 1000))]
        for key, value in (*options.items(), *spec.muxer_options.items()):
            args += [f"-{key}", str(value)]
        args += ["-f", spec.container, "pipe:1"]
        container = self._run(args, pcm.tobytes(), samples.shape[1] / rate)
        payload, header = _count_packets(container, spec.demux_format)
        params = {"options": options} if options else {}
        return NativeEncoding(container, payload, header, 0, params)

    def _decode_container(self, env: Envelope) -> Audio:
        demuxer = BINARY_DEMUXERS.get(self.spec.demux_format, self.spec.demux_format)
        args = ["-f", demuxer, "-i", "pipe:0", "-map", "0:a:0"]
        args += ["-c:a", "pcm_f32le", "-f", "f32le", "-ac", str(env.channels)]
        args += ["-ar", str(env.native_rate), "pipe:1"]
        try:
            raw = self._run(args, env.container, env.native_frames / env.native_rate)
        except CodecUnavailable:
            raise
        except CodecError as exc:
            raise BitstreamError(f"{self.name}: cannot decode the container: {exc}") from None
        samples = np.frombuffer(raw, dtype="<f4")
        if samples.size == 0 or samples.size % env.channels:
            raise BitstreamError(f"{self.name}: decoder returned {samples.size} samples")
        return Audio(samples.reshape(-1, env.channels).T, env.native_rate)


def _count_packets(container: bytes, demuxer: str) -> tuple[int, int]:
    """(payload bytes, header bytes) of a container file, read with PyAV's demuxer."""
    import av

    try:
        with av.open(io.BytesIO(container), mode="r", format=demuxer) as handle:
            stream = handle.streams.audio[0]
            payload = sum(packet.size for packet in handle.demux(stream) if packet.size)
            context = stream.codec_context
            header = len(context.extradata or b"") if context is not None else 0
    except (av.error.FFmpegError, IndexError) as exc:
        raise CodecError(f"cannot count packets of the {demuxer} output: {exc}") from None
    return payload, header


for _spec in SPECS:
    CODECS.register(_spec.name)(FFmpegCliCodec(_spec))
