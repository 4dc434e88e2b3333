"""The NAMC network for inference, in numpy (no torch needed to encode or decode).

Axes, stated once and kept everywhere: audio at 44.1 kHz is cut into frames of ``F`` samples.
Arrays of frames are ``(frames, F)``: the *frame index is the sequence axis* (rows) and the
*samples of one frame are the feature axis* (columns). Every layer acts on rows independently,
so no frame ever sees another (the original note's bug mixed exactly these two axes).

Positional encoding. The encoding is of the *sample's position within its frame*, never of the
frame's position within the clip: a frame's code must not depend on where the clip happens to
start (ESC-50 clips are 5-s cuts of longer recordings, LibriSpeech utterances have any length),
and a codec must be able to start anywhere. With a dense layer over the frame, adding a fixed
per-position code is only a bias, so the encoding is used the way it matters: the ``P``
sinusoids (geometric frequencies, the transformer's ladder rescaled to span 0.5 cycles per frame
up to just below Nyquist) form a fixed *carrier dictionary* ``E`` (``F x P``). The analysis layer
is a learned mix of carriers (``A = W_a E^T``) and the synthesis layer writes the frame as learned
carrier mixtures modulated by the decoded amplitudes (``x = a W_s E^T``): a filterbank with
``P x C`` weights instead of ``F x C``, independent of the frame size.

Encoder:  u = tanh(x A^T + b_a);  h = tanh(u W_1^T + b_1);  z = h W_2^T + b_2
RVQ:      N residual codebooks (K x D); index n is the nearest entry to what codebooks < n left
Decoder:  g = tanh(q V_1^T + c_1);  a = g V_2^T + c_2;      x = a S + b_s,  S = W_s E^T
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from bench.namc.config import NamcConfig

#: Frames per block of the numpy inference (keeps the distance matrix in cache).
_CHUNK = 256

#: Array names and shapes (in terms of the config) of a weight file, in canonical order.
ARRAY_SHAPES: dict[str, str] = {
    "enc.analysis": "C,P",
    "enc.analysis_bias": "C",
    "enc.hidden.weight": "H,C",
    "enc.hidden.bias": "H",
    "enc.latent.weight": "D,H",
    "enc.latent.bias": "D",
    "rvq.codebooks": "N,K,D",
    "dec.hidden.weight": "H,D",
    "dec.hidden.bias": "H",
    "dec.carriers.weight": "C,H",
    "dec.carriers.bias": "C",
    "dec.synthesis": "C,P",
    "dec.synthesis_bias": "1",
    "prior.counts": "N,K",
}


def expected_shape(name: str, config: NamcConfig) -> tuple[int, ...]:
    """Shape array ``name`` must have under ``config``."""
    sizes = {
        "C": config.channels,
        "P": config.pe_dim,
        "H": config.hidden,
        "D": config.latent,
        "N": config.codebooks,
        "K": config.codebook_size,
        "1": 1,
    }
    return tuple(sizes[s] for s in ARRAY_SHAPES[name].split(","))


def carriers(frame: int, pe_dim: int) -> np.ndarray:
    """Sinusoidal encoding of the position within a frame: ``(frame, pe_dim)`` float32.

    Column ``2k`` is ``sin(w_k i)`` and ``2k+1`` is ``cos(w_k i)`` for sample ``i``, with
    ``w_k`` geometric from ``pi/frame`` (half a cycle per frame) to ``pi (1 - 1/frame)`` (just
    below Nyquist, where the sine would vanish on integer positions).
    """
    top = 1.0 - 1.0 / frame
    omega = np.pi * np.geomspace(1.0 / frame, top, pe_dim // 2)
    phase = np.outer(np.arange(frame, dtype=np.float64), omega)
    out = np.empty((frame, pe_dim), dtype=np.float64)
    out[:, 0::2] = np.sin(phase)
    out[:, 1::2] = np.cos(phase)
    return out.astype(np.float32)


def weights_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of the arrays (container-independent)."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class NamcModel:
    """Trained weights of one operating point with numpy encode/decode of normalised frames."""

    config: NamcConfig
    arrays: dict[str, np.ndarray]
    #: Hash of the weights (see :func:`weights_digest`), computed at construction.
    digest: str = field(init=False)
    _cache: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        missing = sorted(set(ARRAY_SHAPES) - set(self.arrays))
        if missing:
            raise ValueError(f"NAMC weights lack array(s): {', '.join(missing)}")
        for name in ARRAY_SHAPES:
            want = expected_shape(name, self.config)
            got = tuple(self.arrays[name].shape)
            if got != want:
                raise ValueError(f"NAMC weights: {name} has shape {got}, config needs {want}")
            if name != "prior.counts" and not np.all(np.isfinite(self.arrays[name])):
                raise ValueError(f"NAMC weights: {name} holds non-finite values")
        if np.any(self.arrays["prior.counts"] < 0):
            raise ValueError("NAMC weights: prior.counts must be non-negative")
        object.__setattr__(self, "digest", weights_digest(self.arrays))
        object.__setattr__(self, "_cache", {})
        carrier = carriers(self.config.frame, self.config.pe_dim)
        a = self.arrays
        # Fold the carrier dictionary into plain matrices once; inference is then 3 + 3 GEMMs.
        self._cache["analysis"] = np.ascontiguousarray(
            (a["enc.analysis"].astype(np.float32) @ carrier.T).T
        )  # (F, C)
        self._cache["synthesis"] = np.ascontiguousarray(
            a["dec.synthesis"].astype(np.float32) @ carrier.T
        )  # (C, F)
        for name in ARRAY_SHAPES:
            if name.endswith("weight"):
                self._cache[name] = np.ascontiguousarray(a[name].astype(np.float32).T)
            else:
                self._cache[name] = np.ascontiguousarray(a[name].astype(np.float32))
        books = self._cache["rvq.codebooks"]
        self._cache["rvq.norms"] = np.einsum("nkd,nkd->nk", books, books)
        self._cache["rvq.minus2t"] = np.ascontiguousarray(-2.0 * books.transpose(0, 2, 1))

    def parameter_count(self) -> int:
        """Number of weights (prior counts excluded: they are entropy-coder statistics)."""
        return int(sum(v.size for k, v in self.arrays.items() if k != "prior.counts"))

    def latent(self, frames: np.ndarray) -> np.ndarray:
        """Encoder output ``(n, D)`` of normalised frames ``(n, F)``."""
        c = self._cache
        u = frames @ c["analysis"]
        u += c["enc.analysis_bias"]
        np.tanh(u, out=u)
        h = u @ c["enc.hidden.weight"]
        h += c["enc.hidden.bias"]
        np.tanh(h, out=h)
        z = h @ c["enc.latent.weight"]
        z += c["enc.latent.bias"]
        return z

    def quantise(self, latent: np.ndarray) -> np.ndarray:
        """Residual VQ: indices ``(n, N)`` (int64) of latents ``(n, D)``."""
        books, scaled, norms = (
            self._cache["rvq.codebooks"],
            self._cache["rvq.minus2t"],
            self._cache["rvq.norms"],
        )
        residual = np.array(latent, dtype=np.float32)
        out = np.empty((residual.shape[0], books.shape[0]), dtype=np.int64)
        for n in range(books.shape[0]):
            # ||r - c||^2 - ||r||^2 = ||c||^2 - 2 r.c; the dropped term does not move the argmin.
            dist = residual @ scaled[n]
            dist += norms[n]
            idx = np.argmin(dist, axis=1)
            out[:, n] = idx
            residual -= books[n][idx]
        return out

    def dequantise(self, indices: np.ndarray) -> np.ndarray:
        """Sum of the chosen codebook entries: ``(n, D)`` from indices ``(n, N)``."""
        books = self._cache["rvq.codebooks"]
        out = books[0][indices[:, 0]]
        for n in range(1, books.shape[0]):
            out += books[n][indices[:, n]]
        return out

    def synthesise(self, quantised: np.ndarray) -> np.ndarray:
        """Decoder: normalised frames ``(n, F)`` from quantised latents ``(n, D)``."""
        c = self._cache
        g = quantised @ c["dec.hidden.weight"]
        g += c["dec.hidden.bias"]
        np.tanh(g, out=g)
        amp = g @ c["dec.carriers.weight"]
        amp += c["dec.carriers.bias"]
        out = amp @ c["synthesis"]
        out += c["dec.synthesis_bias"]
        return out

    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        """Indices ``(n, N)`` of normalised frames ``(n, F)``."""
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim != 2 or frames.shape[1] != self.config.frame:
            raise ValueError(f"frames must be (n, {self.config.frame}), got {frames.shape}")
        out = np.empty((frames.shape[0], self.config.codebooks), dtype=np.int64)
        # Row blocks keep the temporaries in cache; rows are independent, so this changes
        # nothing but speed.
        for start in range(0, frames.shape[0], _CHUNK):
            rows = slice(start, start + _CHUNK)
            out[rows] = self.quantise(self.latent(frames[rows]))
        return out

    def decode_frames(self, indices: np.ndarray) -> np.ndarray:
        """Normalised frames ``(n, F)`` (float32) from indices ``(n, N)``."""
        indices = np.asarray(indices)
        if indices.ndim != 2 or indices.shape[1] != self.config.codebooks:
            raise ValueError(f"indices must be (n, {self.config.codebooks}), got {indices.shape}")
        out = np.empty((indices.shape[0], self.config.frame), dtype=np.float32)
        for start in range(0, indices.shape[0], _CHUNK):
            rows = slice(start, start + _CHUNK)
            out[rows] = self.synthesise(self.dequantise(indices[rows]))
        return out
