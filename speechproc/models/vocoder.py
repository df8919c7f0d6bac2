"""Losses of the neural vocoder (:mod:`speechproc.tasks.vocoder`).

:class:`MultiResolutionSTFTLoss` is Parallel WaveGAN's auxiliary loss (Yamamoto et al., 2020):
spectral convergence plus L1 log-magnitude distance, averaged over several STFT resolutions.
SpeechBrain's ``MultiScaleSTFTLoss`` computes the same but calls ``torch.stft`` without
``return_complex``, which current PyTorch refuses.

>>> loss = MultiResolutionSTFTLoss()
>>> x = torch.randn(2, 1, 8192)
>>> mag, sc = loss(x, x)
>>> float(mag), float(sc)
(0.0, 0.0)
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

__all__ = ["MultiResolutionSTFTLoss"]


class MultiResolutionSTFTLoss(torch.nn.Module):
    """``(fake, real)`` waveforms ``(B, 1, N)`` or ``(B, N)`` -> ``(log-magnitude L1, spectral convergence)``."""

    def __init__(self, n_ffts: Sequence[int] = (1024, 2048, 512), hop_lengths: Sequence[int] = (120, 240, 50),
                 win_lengths: Sequence[int] = (600, 1200, 240), eps: float = 1e-7) -> None:
        super().__init__()
        if not len(n_ffts) == len(hop_lengths) == len(win_lengths):
            raise ValueError("n_ffts, hop_lengths and win_lengths need the same number of resolutions")
        self.resolutions = list(zip(n_ffts, hop_lengths, win_lengths))
        self.eps = eps
        for i, (_, _, win) in enumerate(self.resolutions):
            self.register_buffer(f"window{i}", torch.hann_window(win), persistent=False)

    def _magnitude(self, x: torch.Tensor, i: int) -> torch.Tensor:
        n_fft, hop, win = self.resolutions[i]
        spec = torch.stft(x, n_fft, hop, win, getattr(self, f"window{i}"), return_complex=True)
        return spec.abs().clamp(min=self.eps)

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        fake = fake.reshape(-1, fake.shape[-1])
        real = real.reshape(-1, real.shape[-1])[:, : fake.shape[-1]]
        mag_loss = fake.new_zeros(())
        sc_loss = fake.new_zeros(())
        for i in range(len(self.resolutions)):
            f, r = self._magnitude(fake, i), self._magnitude(real, i)
            sc_loss = sc_loss + torch.linalg.norm(r - f) / torch.linalg.norm(r).clamp(min=self.eps)
            mag_loss = mag_loss + torch.nn.functional.l1_loss(torch.log(f), torch.log(r))
        n = len(self.resolutions)
        return mag_loss / n, sc_loss / n
