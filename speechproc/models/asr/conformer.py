"""Joint CTC/attention encoder-decoder: Conv2d subsampling + Conformer (or Transformer) encoder,
CTC head and Transformer decoder, built from SpeechBrain's ``TransformerASR`` lobe.

Shapes are batch first: features ``(B, T, D)``, encoder output ``(B, T', d_model)`` with
``T' = ((T - 1) // 2 - 1) // 2``, logits ``(B, T', V)`` and ``(B, L, V)``.

The encoder output of an utterance does not depend on how much the batch pads it (eval mode):
the subsampling convolutions have no padding, so a valid output frame only sees valid input
frames, attention masks padded keys, and the Conformer convolution module zeroes padded frames
before its depthwise convolution.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from speechbrain.lobes.models.transformer.Conformer import ConvolutionModule
from speechbrain.lobes.models.transformer.TransformerASR import TransformerASR
from torch import nn

__all__ = ["Conv2dSubsampling", "ConformerASR", "subsampled_lengths"]


def subsampled_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frame counts after :class:`Conv2dSubsampling` (two 3x3 convolutions with stride 2)."""
    return torch.clamp(((lengths - 1) // 2 - 1) // 2, min=0)


_decode_with_grad = getattr(TransformerASR.decode, "__wrapped__", TransformerASR.decode)


class Conv2dSubsampling(nn.Module):
    """Two 3x3 stride-2 convolutions (no padding) over time and frequency: 4x fewer frames.

    Args:
        input_size: feature dimension ``D``.
        channels: convolution channels ``C``.

    Forward: ``(B, T, D)`` -> ``(B, T', C * D')`` with ``T' = ((T-1)//2 - 1)//2``, ``D'`` likewise.
    """

    def __init__(self, input_size: int, channels: int = 64) -> None:
        super().__init__()
        if input_size < 7:
            raise ValueError(f"input_size must be >= 7 for two stride-2 3x3 convolutions, got {input_size}")
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, 2), nn.ReLU(), nn.Conv2d(channels, channels, 3, 2), nn.ReLU()
        )
        self.input_size = input_size
        self.output_size = channels * (((input_size - 1) // 2 - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` -> ``(B, T', C * D')``."""
        y = self.conv(x.unsqueeze(1))  # (B, C, T', D')
        b, c, t, d = y.shape
        return y.transpose(1, 2).reshape(b, t, c * d)


class _MaskedConvolutionModule(ConvolutionModule):
    """SpeechBrain's Conformer convolution module that also zeroes padded frames before the
    depthwise convolution, so padding never leaks into the last valid frames."""

    def forward(self, x, mask=None, dynchunktrain_config=None):  # noqa: D401 - same contract as parent
        if dynchunktrain_config is not None or self.causal or mask is None:
            return super().forward(x, mask, dynchunktrain_config)
        out = self.layer_norm(x).transpose(1, 2)
        out = self.bottleneck(out)
        out = out.masked_fill(mask.transpose(1, 2), 0.0)
        out = self.conv(out).transpose(1, 2)
        out = self.after_conv(out)
        return out.masked_fill(mask, 0.0)


class ConformerASR(nn.Module):
    """Conformer/Transformer encoder + CTC head + attention decoder.

    Args:
        vocab_size: number of output tokens ``V`` (blank = 0, ``<sos/eos>`` = V - 1).
        input_size: feature dimension ``D`` (80 for fbank).
        d_model: attention dimension.
        nhead: attention heads.
        num_encoder_layers / num_decoder_layers: layer counts (decoder may be 0 for CTC only).
        d_ffn: feed-forward dimension.
        dropout: dropout everywhere.
        kernel_size: Conformer depthwise convolution kernel (odd).
        encoder_module: "conformer" or "transformer".
        attention_type: "RelPosMHAXL" (relative) or "regularMHA" (absolute sinusoidal positions).
        subsampling_channels: channels of the Conv2d subsampling.
    """

    def __init__(
        self,
        vocab_size: int,
        input_size: int = 80,
        d_model: int = 144,
        nhead: int = 4,
        num_encoder_layers: int = 8,
        num_decoder_layers: int = 4,
        d_ffn: int = 576,
        dropout: float = 0.1,
        kernel_size: int = 15,
        encoder_module: str = "conformer",
        attention_type: str = "RelPosMHAXL",
        subsampling_channels: int = 64,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to achieve 'SAME' padding, got {kernel_size}")
        if d_model % nhead:
            raise ValueError(f"d_model ({d_model}) must be divisible by nhead ({nhead})")
        self.vocab_size = vocab_size
        self.subsampling = Conv2dSubsampling(input_size, subsampling_channels)
        self.transformer = TransformerASR(
            tgt_vocab=vocab_size,
            input_size=self.subsampling.output_size,
            d_model=d_model,
            nhead=nhead,
            num_encoder_layers=num_encoder_layers,
            num_decoder_layers=max(num_decoder_layers, 1),
            d_ffn=d_ffn,
            dropout=dropout,
            activation=nn.GELU,
            kernel_size=kernel_size,
            encoder_module=encoder_module,
            attention_type=attention_type,
            normalize_before=True,
            causal=False,
        )
        self.has_decoder = num_decoder_layers > 0
        if not self.has_decoder:
            self.transformer.decoder = None
        for module in self.transformer.encoder.modules():
            if type(module) is ConvolutionModule:
                module.__class__ = _MaskedConvolutionModule
        self.ctc_lin = nn.Linear(d_model, vocab_size)
        self.seq_lin = nn.Linear(d_model, vocab_size)

    def encode(self, feats: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder.

        Args:
            feats: ``(B, T, D)`` normalised features.
            lengths: ``(B,)`` valid frame counts (long).

        Returns:
            ``(enc, enc_lengths)``: ``(B, T', d_model)`` and ``(B,)`` valid output frame counts.
        """
        x = self.subsampling(feats)
        enc_lengths = subsampled_lengths(lengths).clamp(max=x.shape[1])
        # the padding mask from the exact frame counts (SpeechBrain's TransformerASR.encode rebuilds the same mask
        # from relative lengths with Python-side sizes, which an exported graph would freeze to one batch size)
        pad = torch.arange(x.shape[1], device=x.device)[None, :] >= enc_lengths[:, None]
        t = self.transformer
        x = t.custom_src_module(x)
        if t.attention_type == "RelPosMHAXL":
            pos = t.positional_encoding(x)
        else:
            x, pos = x + t.positional_encoding(x), None
        enc, _ = t.encoder(src=x, src_mask=None, src_key_padding_mask=pad, pos_embs=pos)
        return enc.masked_fill(pad.unsqueeze(-1), 0.0), enc_lengths

    def ctc_logprobs(self, enc: torch.Tensor) -> torch.Tensor:
        """CTC log-probabilities ``(B, T', V)`` of encoder output ``(B, T', d_model)``."""
        return torch.log_softmax(self.ctc_lin(enc), dim=-1)

    def decoder_logprobs(self, tokens_bos: torch.Tensor, enc: torch.Tensor, enc_lengths: torch.Tensor) -> torch.Tensor:
        """Attention decoder log-probabilities ``(B, L, V)`` for decoder input ``(B, L)`` (teacher forcing)."""
        if not self.has_decoder:
            raise RuntimeError("this model has no attention decoder (num_decoder_layers = 0)")
        # TransformerASR.decode is wrapped in torch.no_grad() (it is meant for search); call the
        # undecorated function so that training reaches the decoder's parameters.
        pred, _ = _decode_with_grad(self.transformer, tokens_bos, enc, enc_lengths)
        return torch.log_softmax(self.seq_lin(pred), dim=-1)

    @torch.no_grad()
    def decoder_attention(self, tokens_bos: torch.Tensor, enc: torch.Tensor, enc_lengths: torch.Tensor) -> torch.Tensor:
        """Source attention of the last decoder layer, averaged over heads: ``(B, L, T')`` (teacher forcing)."""
        if not self.has_decoder:
            raise RuntimeError("this model has no attention decoder (num_decoder_layers = 0)")
        _, attn = _decode_with_grad(self.transformer, tokens_bos, enc, enc_lengths)
        return attn if attn.dim() == 3 else attn.mean(1)

    def forward(
        self, feats: torch.Tensor, lengths: torch.Tensor, tokens_bos: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
        """``(B, T, D)`` features, ``(B,)`` frame counts, ``(B, L)`` decoder input ->
        ``(ctc_logprobs (B, T', V), decoder_logprobs (B, L, V) or None, enc_lengths (B,))``."""
        enc, enc_lengths = self.encode(feats, lengths)
        dec = None
        if tokens_bos is not None and self.has_decoder:
            dec = self.decoder_logprobs(tokens_bos, enc, enc_lengths)
        return self.ctc_logprobs(enc), dec, enc_lengths
