"""NAMC, the small neural codec, as two codecs of the suite.

``namc``         indices range-coded with a learned prior (the measured rate shows how little of
                 each codebook is used);
``namc-packed``  indices bit-packed at ``ceil(log2 K)`` bits (the rate the codebooks pay for).

Both sweep the shipped operating points (``bench/namc/weights/``) as their bitrate ladder; the
ladder values are the bit-packed index rates (``--kbps 5.6`` asks for the ``note`` operating
point). The measured rate counts every byte of the stream: header, min/max side information,
indices and checksum. Inference runs in numpy; torch is needed only to train.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bench.audio import Audio
from bench.codecs import register_codec
from bench.codecs.base import Bitrates, Codec, Encoded
from bench.errors import AudioError, BenchError, BitstreamError, CodecError
from bench.namc.config import PRESETS, SAMPLE_RATE

#: Changes when this adapter's handling of audio changes (resampling, lengths).
ADAPTER_VERSION = 1

_LADDER = tuple(sorted(cfg.nominal_kbps for cfg in PRESETS.values()))
_SIZES = sorted(cfg.parameter_count()["total"] for cfg in PRESETS.values())
_WEIGHTS = f"{_SIZES[0] / 1000:.1f}k-{_SIZES[-1] / 1000:.1f}k weights"


class _NamcCodec(Codec):
    """Shared encode/decode of both bitstream modes."""

    native_rates: ClassVar[tuple[int, ...]] = (SAMPLE_RATE,)
    max_channels: ClassVar[int] = 1
    bitrates: ClassVar[Bitrates] = Bitrates(ladder=_LADDER, allowed=_LADDER)
    lag_tolerance: ClassVar[int] = 0
    domain: ClassVar[str] = "general"
    backend: ClassVar[str] = "numpy"
    neural: ClassVar[bool] = True
    #: Bitstream mode written by :meth:`encode` (see :mod:`bench.namc.bitstream`).
    mode: ClassVar[int] = 0

    # -- operating points ----------------------------------------------------------------------
    @staticmethod
    def _points() -> dict[str, Any]:
        from bench.namc.weights import shipped_operating_points

        return shipped_operating_points()

    def _model_for_kbps(self, kbps: float | None):  # type: ignore[no-untyped-def]
        points = self._points()
        for model, _ in points.values():
            if kbps is not None and abs(model.config.nominal_kbps - kbps) < 1e-6:
                return model
        raise CodecError(f"{self.name}: no shipped operating point at {kbps} kbps")

    def _model_for_id(self, op_id: int):  # type: ignore[no-untyped-def]
        for model, _ in self._points().values():
            if model.config.op_id == op_id:
                return model
        known = ", ".join(f"{m.config.op_id} ({name})" for name, (m, _) in self._points().items())
        raise BitstreamError(f"NAMC bitstream: unknown operating point id {op_id}; known: {known}")

    def operating_points(self) -> list[dict[str, Any]]:
        """Name, nominal rate, parameter count and validation SNR of each shipped point."""
        rows = []
        for name, (model, record) in self._points().items():
            rows.append(
                {
                    "name": name,
                    "op_id": model.config.op_id,
                    "nominal_kbps": model.config.nominal_kbps,
                    "parameters": model.parameter_count(),
                    "val_snr_db": record.get("validation", {}).get("snr_db_mean"),
                    "weights_sha256": model.digest,
                }
            )
        return rows

    # -- Codec API -----------------------------------------------------------------------------
    def availability(self) -> tuple[bool, str]:
        try:
            import numpy  # noqa: F401

            if self.mode == 1:
                import constriction  # noqa: F401
        except ImportError as exc:
            return False, f"missing Python package: {exc.name}"
        try:
            points = self._points()
        except BenchError as exc:
            return False, f"NAMC weights unusable: {exc}"
        missing = sorted({cfg.name for cfg in PRESETS.values()} - set(points))
        if missing:
            return False, f"NAMC weights missing for operating point(s): {', '.join(missing)}"
        for name, (model, _) in points.items():
            if PRESETS.get(name) != model.config:
                return False, (
                    f"NAMC weights for {name!r} were trained with a config other than the "
                    "preset of that name; retrain with --config NAME or remove them"
                )
        return True, ""

    def version(self) -> str:
        from bench.namc.bitstream import FORMAT_VERSION

        parts = [f"adapter{ADAPTER_VERSION}", f"format{FORMAT_VERSION}"]
        parts += [f"{name}:{model.digest[:12]}" for name, (model, _) in self._points().items()]
        if self.mode == 1:
            from bench.metrics.base import distribution_version

            parts.append(f"constriction {distribution_version('constriction')}")
        return " ".join(parts)

    def encode(self, audio: Audio, kbps: float | None) -> Encoded:
        from bench.namc import bitstream
        from bench.namc.transform import analyse

        self.check_input(audio, kbps)
        model = self._model_for_kbps(kbps)
        if audio.rate > bitstream.MAX_RATE or audio.frames > bitstream.MAX_LENGTH:
            raise AudioError(
                f"{self.name}: input of {audio.frames} samples at {audio.rate} Hz is beyond the "
                f"header's limits ({bitstream.MAX_RATE} Hz, {bitstream.MAX_LENGTH} samples)"
            )
        samples = bitstream.samples_at_model_rate(audio.rate, audio.frames)
        if samples < 1:
            raise AudioError(
                f"{self.name}: {audio.frames} sample(s) at {audio.rate} Hz is shorter than one "
                f"sample at {SAMPLE_RATE} Hz"
            )
        # soxr's own rounding of the resampled length may differ by a sample from the length
        # the decoder derives from the header; the header's rule wins.
        signal = audio.resample(SAMPLE_RATE).with_frames(samples).samples[0]
        analysis = analyse(model, signal)
        data = bitstream.write(model, analysis, self.mode, audio.rate, audio.frames)
        side = 2 * analysis.lo_codes.size
        cfg = model.config
        return Encoded(
            data=data,
            payload_bytes=len(data),
            duration_s=audio.duration,
            target_kbps=kbps,
            params={
                "operating_point": cfg.name,
                "mode": bitstream.MODES[self.mode],
                "frames": -(-samples // cfg.frame),
                "coded_frames": int(analysis.indices.shape[0]),
                "codebooks": cfg.codebooks,
                "codebook_size": cfg.codebook_size,
                "frame_samples": cfg.frame,
                "header_bytes": bitstream.HEADER_BYTES,
                "checksum_bytes": bitstream.CRC_BYTES,
                "side_info_bytes": side,
                "index_bytes": len(data) - bitstream.OVERHEAD_BYTES - side,
            },
        )

    def decode(self, data: bytes) -> Audio:
        from bench.namc import bitstream
        from bench.namc.transform import synthesise

        header, model, analysis = bitstream.read(data, self._model_for_id)
        samples = bitstream.samples_at_model_rate(header.rate, header.length)
        decoded = Audio(synthesise(model, analysis, samples), SAMPLE_RATE)
        try:
            return decoded.resample(header.rate).with_frames(header.length)
        except AudioError as exc:
            raise CodecError(f"{self.name}: cannot return to {header.rate} Hz: {exc}") from None


@register_codec
class NamcRangeCodec(_NamcCodec):
    """NAMC with range-coded indices (learned per-codebook prior)."""

    name: ClassVar[str] = "namc"
    description: ClassVar[str] = (
        f"NAMC neural codec ({_WEIGHTS}, numpy), indices range-coded with a learned prior"
    )
    mode: ClassVar[int] = 1
    #: Variable rate: the range coder spends what the prior says, so the rate is reported only.
    rate_tolerance: ClassVar[float | None] = None


@register_codec
class NamcPackedCodec(_NamcCodec):
    """NAMC with bit-packed indices (ceil(log2 K) bits each)."""

    name: ClassVar[str] = "namc-packed"
    description: ClassVar[str] = (
        f"NAMC neural codec ({_WEIGHTS}, numpy), indices bit-packed at log2(K) bits"
    )
    mode: ClassVar[int] = 0
    #: Not constant: the ladder rate plus 160 b/s of min/max side information and a 23-byte
    #: header/checksum, minus the frames of digitally silent blocks, which are not coded at all
    #: (a zero-padded ESC-50 clip can cost a tenth of the ladder value). Reported, not checked.
    rate_tolerance: ClassVar[float | None] = None
