"""Vocos-style GAN vocoder: a ConvNeXt generator with an inverse-STFT head, and its discriminators.

The generator (Siuzdak, 2023, "Vocos") never upsamples in the time domain: a stack of ConvNeXt
blocks runs at the mel frame rate and predicts, per frame, the log-magnitude and the phase of an
STFT whose inverse (``torch.istft``, the same window and hop as the mel) is the waveform. This is
about ten times cheaper than HiFi-GAN's transposed-convolution upsampler and has no frame-rate
periodic artefact, so it is the vocoder that trains on a CPU.

The discriminators are HiFi-GAN's multi-period discriminator (MPD: the waveform folded into
``period`` columns, 2-D convolutions along time) and UnivNet's multi-resolution discriminator (MRD:
2-D convolutions over magnitude spectrograms at three resolutions), with configurable widths
(the published widths cost about 12 s per update on one CPU core; 32-256 channels keep most of the
signal at a fraction of the cost). Both return what SpeechBrain's HiFi-GAN losses take:
``(scores, features)``, a list of score maps and a list of per-discriminator feature-map lists.

>>> g = VocosGenerator(n_mels=80, dim=64, intermediate_dim=128, num_layers=2, n_fft=1024, hop_length=256)
>>> g(torch.randn(2, 80, 10)).shape
torch.Size([2, 1, 2560])
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["ConvNeXtBlock", "VocosGenerator", "MultiPeriodDiscriminator", "MultiResolutionDiscriminator",
           "VocosDiscriminator"]

Scores = List[torch.Tensor]
Features = List[List[torch.Tensor]]


class ConvNeXtBlock(nn.Module):
    """Depthwise conv (kernel 7) -> LayerNorm -> pointwise MLP (GELU) -> layer scale, with a residual.

    Input and output ``(B, dim, T)``.
    """

    def __init__(self, dim: int, intermediate_dim: int, layer_scale_init: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class VocosGenerator(nn.Module):
    """Log-mel ``(B, n_mels, T)`` -> waveform ``(B, 1, T * hop_length)``.

    Args:
        n_mels: mel bins of the input.
        dim: channels of the ConvNeXt backbone.
        intermediate_dim: hidden width of each block's MLP.
        num_layers: ConvNeXt blocks.
        n_fft: FFT size of the inverse-STFT head (the mel's ``n_fft``: the frames line up with the mel's).
        hop_length: hop of the head; must be the mel's hop so that ``T`` frames give ``T * hop`` samples.
        win_length: window of the head (default ``n_fft``).
        max_log_magnitude: the predicted log-magnitude is clipped here (``exp(4.6)`` is about 100), as
            Vocos does, so that an early, untrained head cannot overflow.
    """

    def __init__(self, n_mels: int = 80, dim: int = 512, intermediate_dim: int = 1536, num_layers: int = 8,
                 n_fft: int = 1024, hop_length: int = 256, win_length: int = 0,
                 max_log_magnitude: float = 4.6) -> None:
        super().__init__()
        if hop_length <= 0 or n_fft < hop_length:
            raise ValueError(f"VocosGenerator: need 0 < hop_length <= n_fft, got hop {hop_length}, n_fft {n_fft}")
        self.n_mels, self.n_fft, self.hop_length = int(n_mels), int(n_fft), int(hop_length)
        self.win_length = int(win_length) or self.n_fft
        self.max_log_magnitude = float(max_log_magnitude)
        self.embed = nn.Conv1d(n_mels, dim, kernel_size=7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, intermediate_dim, 1.0 / num_layers) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, self.n_fft + 2)  # (n_fft / 2 + 1) log-magnitudes and as many phases
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` -> complex STFT ``(B, n_fft / 2 + 1, T)``."""
        if mel.dim() != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"VocosGenerator: expected a log-mel (B, {self.n_mels}, T), got {tuple(mel.shape)}")
        x = self.embed(mel)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.head(self.final_norm(x.transpose(1, 2))).transpose(1, 2)
        log_mag, phase = x.chunk(2, dim=1)
        mag = torch.exp(log_mag.clamp(max=self.max_log_magnitude))
        return torch.polar(mag, phase)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        spec = self.spectrum(mel)
        frames = spec.shape[-1]
        wave = torch.istft(spec, self.n_fft, self.hop_length, self.win_length, self.window, center=True,
                           length=frames * self.hop_length)
        return wave[:, None, :]

    def remove_weight_norm(self) -> None:
        """No weight norm here; kept so that every vocoder generator has the same inference interface."""


def _conv_stack(convs: nn.ModuleList, post: nn.Module, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """Leaky-ReLU convolutions then the score layer: ``(flattened score map, every layer's output)``."""
    feats = []
    for conv in convs:
        x = nn.functional.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x.flatten(1), feats


class _Ensemble(nn.Module):
    """Sub-discriminators side by side: ``(B, 1, N)`` -> (their scores, their feature-map lists)."""

    discriminators: nn.ModuleList

    def forward(self, x: torch.Tensor) -> Tuple[Scores, Features]:
        outs = [d(x) for d in self.discriminators]
        return [s for s, _ in outs], [f for _, f in outs]


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN's sub-discriminator of one period: ``(B, 1, N)`` -> score map, feature maps."""

    def __init__(self, period: int, channels: Sequence[int] = (32, 64, 128, 256), kernel_size: int = 5,
                 stride: int = 3) -> None:
        super().__init__()
        self.period = int(period)
        pad = (kernel_size - 1) // 2
        layers, c_in = [], 1
        for i, c_out in enumerate(channels):
            s = stride if i < len(channels) - 1 else 1
            layers.append(weight_norm(nn.Conv2d(c_in, c_out, (kernel_size, 1), (s, 1), padding=(pad, 0))))
            c_in = c_out
        self.convs = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv2d(c_in, 1, (3, 1), padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        b, c, n = x.shape
        if n % self.period:
            x = nn.functional.pad(x, (0, self.period - n % self.period), mode="reflect")
        return _conv_stack(self.convs, self.post, x.view(b, c, -1, self.period))


class MultiPeriodDiscriminator(_Ensemble):
    """One :class:`PeriodDiscriminator` per period (HiFi-GAN: 2, 3, 5, 7, 11)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), channels: Sequence[int] = (32, 64, 128, 256)) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels) for p in periods)


class ResolutionDiscriminator(nn.Module):
    """UnivNet's sub-discriminator on the log-compressed magnitude of one STFT resolution."""

    def __init__(self, n_fft: int, hop_length: int, channels: int = 32, num_layers: int = 4) -> None:
        super().__init__()
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        layers = [weight_norm(nn.Conv2d(1, channels, (7, 5), (2, 2), padding=(3, 2)))]
        for _ in range(num_layers - 1):
            layers.append(weight_norm(nn.Conv2d(channels, channels, (5, 3), (2, 1), padding=(2, 1))))
        layers.append(weight_norm(nn.Conv2d(channels, channels, 3, padding=1)))
        self.convs = nn.ModuleList(layers)
        self.post = weight_norm(nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        spec = torch.stft(x.squeeze(1), self.n_fft, self.hop_length, self.n_fft, self.window, center=True,
                          return_complex=True)
        return _conv_stack(self.convs, self.post, torch.log1p(spec.abs())[:, None])  # (B, 1, F, T)


class MultiResolutionDiscriminator(_Ensemble):
    """One :class:`ResolutionDiscriminator` per ``(n_fft, hop)`` (UnivNet / Vocos: 2048, 1024, 512 with hop n_fft / 4)."""

    def __init__(self, n_ffts: Sequence[int] = (2048, 1024, 512), channels: int = 32) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(ResolutionDiscriminator(n, n // 4, channels) for n in n_ffts)


class VocosDiscriminator(nn.Module):
    """MPD and MRD together: ``(B, 1, N)`` -> (scores of every sub-discriminator, their feature maps)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), period_channels: Sequence[int] = (32, 64, 128, 256),
                 n_ffts: Sequence[int] = (2048, 1024, 512), resolution_channels: int = 32) -> None:
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(periods, period_channels)
        self.mrd = MultiResolutionDiscriminator(n_ffts, resolution_channels)

    def forward(self, x: torch.Tensor) -> Tuple[Scores, Features]:
        s1, f1 = self.mpd(x)
        s2, f2 = self.mrd(x)
        return s1 + s2, f1 + f2
