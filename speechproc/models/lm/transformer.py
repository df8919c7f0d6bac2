"""Causal Transformer language model over token ids (SpeechBrain's ``TransformerLM`` lobe).

``forward(tokens)``: ``(B, L)`` token ids (0 = padding; the first is ``<sos/eos>``) ->
``(B, L, V)`` next-token logits. It is the model that :class:`~speechbrain.decoders.scorer.TransformerLMScorer`
expects for shallow fusion.
"""
from __future__ import annotations

import torch
from speechbrain.lobes.models.transformer.TransformerLM import TransformerLM as _SBTransformerLM
from torch import nn

__all__ = ["TransformerLM"]


class TransformerLM(_SBTransformerLM):
    """Causal Transformer LM.

    Args:
        vocab_size: number of tokens ``V`` (same token list as the ASR model).
        d_model: model dimension.
        nhead: attention heads.
        num_layers: Transformer layers.
        d_ffn: feed-forward dimension.
        dropout: dropout.
    """

    def __init__(self, vocab_size: int, d_model: int = 256, nhead: int = 4, num_layers: int = 4,
                 d_ffn: int = 1024, dropout: float = 0.1) -> None:
        if d_model % nhead:
            raise ValueError(f"d_model ({d_model}) must be divisible by nhead ({nhead})")
        super().__init__(vocab=vocab_size, d_model=d_model, nhead=nhead, num_encoder_layers=num_layers,
                         num_decoder_layers=0, d_ffn=d_ffn, dropout=dropout, activation=nn.GELU,
                         normalize_before=True, causal=True)
        self.vocab_size = vocab_size

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # noqa: D401
        """``(B, L)`` ids -> ``(B, L, V)`` logits of the next token."""
        return super().forward(tokens)
