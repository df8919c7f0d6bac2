"""Recognition-synthesis VC decoder: content features + log-F0 -> the target speaker's log-mel.

:class:`ContentDecoder` is non-autoregressive: every mel frame comes from the content and F0 features
of the same frame time (:mod:`speechproc.features.content`), through a linear input layer and a stack
of ConvNeXt blocks (:class:`speechproc.models.vocos.ConvNeXtBlock`; ``num_layers`` blocks of kernel 7
see +-``3 * num_layers`` frames) and a linear output layer. There is no attention and no duration model:
the output has exactly the input's frames, so nothing can be skipped or repeated, and the speaking
rate and rhythm are the source's. The log-F0 enters as ``(lf0 - lf0_mean) / lf0_std`` with the voicing
flag; the mean/std are constants of the model (not fitted), so that a decoder adapted to a new
speaker reads F0 on the same scale as the one it was pre-trained with.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from speechproc.models.vocos import ConvNeXtBlock

__all__ = ["ContentDecoder"]


class ContentDecoder(nn.Module):
    """``(B, T, content_dim + 2)`` (content, continuous log-F0, voicing) -> normalised log-mel ``(B, T, n_mels)``.

    Args:
        content_dim: content feature size (Whisper tiny 384, base 512).
        n_mels: output mel bins.
        dim, intermediate_dim, num_layers: ConvNeXt stack width, MLP width and depth.
        lf0_mean, lf0_std: the fixed scale of the log-F0 input (default: log 150 Hz, 0.5).
        dropout: on the projected input (training only).
    """

    def __init__(self, content_dim: int = 384, n_mels: int = 80, dim: int = 256, intermediate_dim: int = 768,
                 num_layers: int = 6, lf0_mean: float = math.log(150.0), lf0_std: float = 0.5,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.content_dim, self.n_mels = content_dim, n_mels
        self.lf0_mean, self.lf0_std = float(lf0_mean), float(lf0_std)
        self.input = nn.Linear(content_dim + 2, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([ConvNeXtBlock(dim, intermediate_dim, 1.0 / num_layers) for _ in range(num_layers)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.output = nn.Linear(dim, n_mels)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor = None) -> torch.Tensor:
        """Normalised log-mel ``(B, T, n_mels)``; frames past ``lengths`` (``(B,)``, optional) are zeros in
        the input to every block, so padding does not leak into the last real frames."""
        if feats.shape[-1] != self.content_dim + 2:
            raise ValueError(f"ContentDecoder: expected {self.content_dim + 2} input features "
                             f"(content {self.content_dim} + log-F0 + voicing), got {feats.shape[-1]}")
        content, lf0, vuv = feats[..., : self.content_dim], feats[..., -2:-1], feats[..., -1:]
        lf0 = torch.where(lf0 > 0, (lf0 - self.lf0_mean) / self.lf0_std, torch.zeros_like(lf0))
        x = self.dropout(self.input(torch.cat([content, lf0, vuv], dim=-1)))
        mask = None
        if lengths is not None:
            mask = (torch.arange(x.shape[1], device=x.device)[None] < lengths[:, None]).to(x.dtype)[:, None]
        x = x.transpose(1, 2)
        for block in self.blocks:
            if mask is not None:
                x = x * mask
            x = block(x)
        return self.output(self.norm(x.transpose(1, 2)))
