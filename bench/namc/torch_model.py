"""The NAMC network in PyTorch, for training; :meth:`NamcNet.export` hands the weights to the
numpy inference model (:mod:`bench.namc.model`), which is what the codec runs.

Inputs are ``(frames, F)``: rows are frames (sequence axis), columns the samples of a frame
(feature axis). Nothing here reshapes across rows, so frames never mix.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from bench.namc.config import NamcConfig
from bench.namc.model import carriers


class ResidualVQ(nn.Module):
    """Residual vector quantiser with EMA codebooks, straight-through gradients, data
    initialisation and dead-code restarts.

    Codebooks are not trained by gradient: each entry moves to the running mean of the residuals
    assigned to it (decay ``ema_decay``). An entry whose running use falls below
    ``dead_code_threshold`` is restarted on a random residual of the current batch, which keeps
    the codebook used (the note reported a perplexity of 2.68, i.e. under 3 entries in use).
    """

    def __init__(self, config: NamcConfig) -> None:
        super().__init__()
        n, k, d = config.codebooks, config.codebook_size, config.latent
        self.decay = config.ema_decay
        self.threshold = config.dead_code_threshold
        self.register_buffer("codebooks", torch.zeros(n, k, d))
        self.register_buffer("ema_count", torch.ones(n, k))
        self.register_buffer("ema_sum", torch.zeros(n, k, d))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def forward(
        self, latent: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[float]]:
        """Quantise ``(n, D)`` latents: ``(quantised_st, indices (n, N), commitment, perplexity)``
        where ``quantised_st`` carries straight-through gradients to the encoder."""
        residual = latent
        quantised = torch.zeros_like(latent)
        commitment = latent.new_zeros(())
        indices, perplexity = [], []
        for n in range(self.codebooks.shape[0]):
            book = self.codebooks[n]
            if self.training and not bool(self.initialised):
                self._restart(n, torch.ones(book.shape[0], dtype=torch.bool), residual)
            dist = book.pow(2).sum(1)[None, :] - 2.0 * residual.detach() @ book.T
            idx = dist.argmin(dim=1)
            chosen = book[idx]
            if self.training:
                self._update(n, idx, residual.detach())
                usage = torch.bincount(idx, minlength=book.shape[0]).float()
                prob = usage / usage.sum()
                entropy = -(prob * torch.log(prob.clamp_min(1e-12))).sum()
                perplexity.append(math.exp(float(entropy)))
            commitment = commitment + F.mse_loss(residual, chosen.detach())
            quantised = quantised + chosen
            residual = residual - chosen.detach()
            indices.append(idx)
        if self.training:
            self.initialised.fill_(True)
        straight = latent + (quantised - latent).detach()
        return straight, torch.stack(indices, dim=1), commitment, perplexity

    @torch.no_grad()
    def _update(self, n: int, idx: torch.Tensor, residual: torch.Tensor) -> None:
        k = self.codebooks.shape[1]
        onehot = F.one_hot(idx, k).to(residual.dtype)
        self.ema_count[n].mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.ema_sum[n].mul_(self.decay).add_(onehot.T @ residual, alpha=1 - self.decay)
        total = self.ema_count[n].sum()
        # Laplace-smoothed counts so an entry with no recent use does not divide by zero.
        smoothed = (self.ema_count[n] + 1e-5) / (total + k * 1e-5) * total
        self.codebooks[n].copy_(self.ema_sum[n] / smoothed[:, None])
        dead = self.ema_count[n] < self.threshold
        if bool(dead.any()):
            self._restart(n, dead, residual)

    @torch.no_grad()
    def _restart(self, n: int, which: torch.Tensor, residual: torch.Tensor) -> None:
        count = int(which.sum())
        # Distinct residuals where the batch allows: duplicated entries would split their
        # frames between them and stay duplicates forever under EMA.
        if count <= residual.shape[0]:
            pick = torch.randperm(residual.shape[0])[:count]
        else:
            pick = torch.randint(0, residual.shape[0], (count,))
        self.codebooks[n][which] = residual[pick]
        self.ema_sum[n][which] = residual[pick]
        self.ema_count[n][which] = 1.0


class NamcNet(nn.Module):
    """Feed-forward frame encoder, residual VQ, feed-forward frame decoder (see
    :mod:`bench.namc.model` for the equations and the role of the positional encoding)."""

    def __init__(self, config: NamcConfig) -> None:
        super().__init__()
        self.config = config
        c, p, h, d, f = config.channels, config.pe_dim, config.hidden, config.latent, config.frame
        self.register_buffer("carriers", torch.from_numpy(carriers(f, p)))
        # Scaled so the analysis outputs start near unit size for full-scale frames.
        self.analysis = nn.Parameter(torch.randn(c, p) / math.sqrt(p * f))
        self.analysis_bias = nn.Parameter(torch.zeros(c))
        self.enc_hidden = nn.Linear(c, h)
        self.enc_latent = nn.Linear(h, d)
        self.rvq = ResidualVQ(config)
        self.dec_hidden = nn.Linear(d, h)
        self.dec_carriers = nn.Linear(h, c)
        self.synthesis = nn.Parameter(torch.randn(c, p) * (0.3 / math.sqrt(c * p)))
        self.synthesis_bias = nn.Parameter(torch.zeros(1))

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Latents ``(n, D)`` of normalised frames ``(n, F)``."""
        analysis = self.analysis @ self.carriers.T  # (C, F)
        u = torch.tanh(frames @ analysis.T + self.analysis_bias)
        return self.enc_latent(torch.tanh(self.enc_hidden(u)))

    def decode(self, quantised: torch.Tensor) -> torch.Tensor:
        """Frames ``(n, F)`` from quantised latents ``(n, D)``."""
        amplitudes = self.dec_carriers(torch.tanh(self.dec_hidden(quantised)))
        return amplitudes @ (self.synthesis @ self.carriers.T) + self.synthesis_bias

    def forward(
        self, frames: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[float]]:
        """``(reconstruction, indices, commitment loss, per-codebook batch perplexity)``."""
        quantised, indices, commitment, perplexity = self.rvq(self.encode(frames))
        return self.decode(quantised), indices, commitment, perplexity

    def export(self) -> dict[str, np.ndarray]:
        """Weights under the names of :data:`bench.namc.model.ARRAY_SHAPES` (prior excluded)."""

        def arr(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy().astype(np.float32).copy()

        return {
            "enc.analysis": arr(self.analysis),
            "enc.analysis_bias": arr(self.analysis_bias),
            "enc.hidden.weight": arr(self.enc_hidden.weight),
            "enc.hidden.bias": arr(self.enc_hidden.bias),
            "enc.latent.weight": arr(self.enc_latent.weight),
            "enc.latent.bias": arr(self.enc_latent.bias),
            "rvq.codebooks": arr(self.rvq.codebooks),
            "dec.hidden.weight": arr(self.dec_hidden.weight),
            "dec.hidden.bias": arr(self.dec_hidden.bias),
            "dec.carriers.weight": arr(self.dec_carriers.weight),
            "dec.carriers.bias": arr(self.dec_carriers.bias),
            "dec.synthesis": arr(self.synthesis),
            "dec.synthesis_bias": arr(self.synthesis_bias),
        }


def multi_resolution_stft_loss(
    reference: torch.Tensor, decoded: torch.Tensor, sizes: tuple[int, ...] = (256, 1024)
) -> torch.Tensor:
    """Mean over FFT sizes of log-magnitude L1 plus spectral convergence; ``(batch, samples)``.

    Hann frames with 50 % overlap (half the cost of the usual 75 %, and still a partition of
    unity), magnitudes from an explicit ``rfft`` with a small floor inside the square root so
    the gradient stays finite at zero.
    """
    total = reference.new_zeros(())
    sizes = tuple(size for size in sizes if size <= reference.shape[-1])  # short segments
    for size in sizes:
        window = torch.hann_window(size, periodic=True, device=reference.device)

        def magnitude(x: torch.Tensor, size: int = size, window: torch.Tensor = window):
            spectrum = torch.fft.rfft(x.unfold(-1, size, size // 2) * window)
            return (spectrum.real.square() + spectrum.imag.square() + 1e-10).sqrt()

        ref, dec = magnitude(reference), magnitude(decoded)
        log_l1 = (torch.log(ref + 1e-5) - torch.log(dec + 1e-5)).abs().mean()
        convergence = torch.linalg.norm(ref - dec) / torch.linalg.norm(ref).clamp_min(1e-8)
        total = total + log_l1 + convergence
    return total / max(len(sizes), 1)
