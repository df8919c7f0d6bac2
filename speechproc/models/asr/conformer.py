"""Joint CTC/attention encoder-decoder: Conv2d subsampling + Conformer (or Transformer) encoder,
CTC head and Transformer decoder, built from SpeechBrain's ``TransformerASR`` lobe.

Shapes are batch first: features ``(B, T, D)``, encoder output ``(B, T', d_model)`` with
``T' = ((T - 1) // 2 - 1) // 2``, logits ``(B, T', V)`` and ``(B, L, V)``.

The encoder output of an utterance does not depend on how much the batch pads it (eval mode):
the subsampling convolutions have no padding, so a valid output frame only sees valid input
frames, attention masks padded keys, and the Conformer convolution module zeroes padded frames
before its depthwise convolution.

Streaming (WeNet U2 / ESPnet style dynamic chunk training, built on SpeechBrain's
``DynChunkTrainConfig``): with ``dynamic_chunk`` (a
``speechbrain.utils.dynamic_chunk_training.DynChunkTrainConfigRandomSampler``) each training batch draws
a chunk size (and a left context in chunks) or full context; a frame then attends to its own chunk and
the chunks to its left, and the convolution module sees no frame right of its chunk (dynamic chunk
convolution). One model decodes at any chunk size: :meth:`ConformerASR.encode` with ``chunk_size`` is
the masked full-utterance pass, :meth:`ConformerASR.encode_chunk` the same computation chunk by chunk
with a cache of the left context (:meth:`ConformerASR.make_streaming_context`).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from speechbrain.lobes.models.transformer.Conformer import ConvolutionModule
from speechbrain.lobes.models.transformer.TransformerASR import TransformerASR
from torch import nn

__all__ = ["Conv2dSubsampling", "ConformerASR", "chunk_config", "subsampled_lengths"]


def chunk_config(chunk_size: int, left_chunks: Optional[int] = None):
    """SpeechBrain's ``DynChunkTrainConfig`` of ``chunk_size`` encoder frames and ``left_chunks`` chunks of left
    context (None: unlimited)."""
    from speechbrain.utils.dynamic_chunk_training import DynChunkTrainConfig

    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be >= 1 encoder frame (40 ms), got {chunk_size}")
    return DynChunkTrainConfig(int(chunk_size), None if left_chunks is None else int(left_chunks))


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
    depthwise convolution, so padding never leaks into the last valid frames, in full context and
    in the chunked (dynamic chunk convolution) mode alike."""

    def forward(self, x, mask=None, dynchunktrain_config=None):  # noqa: D401 - same contract as parent
        if self.causal or mask is None:
            return super().forward(x, mask, dynchunktrain_config)
        out = self.layer_norm(x).transpose(1, 2)
        out = self.bottleneck(out)
        out = out.masked_fill(mask.transpose(1, 2), 0.0)
        if dynchunktrain_config is None:
            out = self.conv(out)
        else:
            out = self._chunked_conv(out, int(dynchunktrain_config.chunk_size))
        out = self.after_conv(out.transpose(1, 2))
        return out.masked_fill(mask, 0.0)

    def _chunked_conv(self, x: torch.Tensor, chunk: int) -> torch.Tensor:
        """Depthwise convolution ``(B, C, T)`` where a frame sees its left neighbours but nothing right of
        its chunk (zeros there, as at the end of the utterance): the streaming pass's computation."""
        if self.dilation != 1:
            raise ValueError("chunked convolution needs dilation 1")
        B, C, T = x.shape
        pad = self.padding
        n = -(-T // chunk)
        x = nn.functional.pad(x, (pad, n * chunk - T))                  # (B, C, pad + n * chunk)
        x = x.unfold(2, chunk + pad, chunk)                               # (B, C, n, pad + chunk)
        x = nn.functional.pad(x, (0, pad))                                # right zeros of each chunk
        x = x.permute(0, 2, 1, 3).reshape(B * n, C, chunk + 2 * pad)
        conv = self.conv
        y = nn.functional.conv1d(x, conv.weight, conv.bias, stride=1, padding=0, dilation=1, groups=conv.groups)
        return y.reshape(B, n, C, chunk).permute(0, 2, 1, 3).reshape(B, C, n * chunk)[..., :T]


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
        dynamic_chunk: streaming training: SpeechBrain's ``DynChunkTrainConfigRandomSampler``; each
            training batch draws its chunk size (encoder frames of 40 ms) and left context from it.
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
        dynamic_chunk=None,
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
        if dynamic_chunk is not None and encoder_module != "conformer":
            raise ValueError("dynamic_chunk (streaming) needs encoder_module: conformer")
        self.dynamic_chunk = dynamic_chunk
        self.streaming = dynamic_chunk is not None  # trained for chunk-by-chunk decoding

    def encode(self, feats: torch.Tensor, lengths: torch.Tensor, chunk_size: Optional[int] = None,
               left_chunks: Optional[int] = None, _chunk_config=None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Encoder.

        Args:
            feats: ``(B, T, D)`` normalised features.
            lengths: ``(B,)`` valid frame counts (long).
            chunk_size: streaming mask: encoder frames (40 ms) per chunk; None: full context.
            left_chunks: chunks to the left a chunk attends to (None: all of them).

        Returns:
            ``(enc, enc_lengths)``: ``(B, T', d_model)`` and ``(B,)`` valid output frame counts.
        """
        config = _chunk_config
        if chunk_size is not None:
            config = chunk_config(chunk_size, left_chunks)
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
        src_mask = None
        if config is not None:
            from speechbrain.lobes.models.transformer.TransformerASR import make_transformer_src_mask

            src_mask = make_transformer_src_mask(x, dynchunktrain_config=config)
            enc, _ = t.encoder(src=x, src_mask=src_mask, src_key_padding_mask=pad, pos_embs=pos,
                               dynchunktrain_config=config)
        else:
            enc, _ = t.encoder(src=x, src_mask=None, src_key_padding_mask=pad, pos_embs=pos)
        return enc.masked_fill(pad.unsqueeze(-1), 0.0), enc_lengths

    def make_streaming_context(self, chunk_size: int, left_chunks: int):
        """Empty cache for :meth:`encode_chunk`: ``chunk_size`` encoder frames per chunk, attention over
        ``left_chunks`` chunks to the left (a finite number: the cache holds them)."""
        if int(left_chunks) < 0:
            raise ValueError(f"left_chunks must be >= 0, got {left_chunks}")
        return self.transformer.make_streaming_context(chunk_config(chunk_size, int(left_chunks)))

    @torch.no_grad()
    def encode_chunk(self, subsampled: torch.Tensor, context) -> torch.Tensor:
        """Encoder output ``(B, n, d_model)`` of the next ``n <= chunk_size`` frames, given their
        :attr:`subsampling` output ``(B, n, C * D')``; ``context`` (:meth:`make_streaming_context`) carries the
        left context from chunk to chunk. Chunk by chunk this equals :meth:`encode` with the same
        ``chunk_size`` / ``left_chunks`` (only the last chunk may be shorter)."""
        if self.transformer.attention_type != "RelPosMHAXL":
            raise ValueError("chunk-by-chunk decoding needs attention_type RelPosMHAXL (relative positions)")
        return self.transformer.encode_streaming(subsampled, context)

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
        config = None
        if self.training and self.dynamic_chunk is not None:
            import speechbrain as sb

            config = self.dynamic_chunk(sb.Stage.TRAIN)
        enc, enc_lengths = self.encode(feats, lengths, _chunk_config=config)
        dec = None
        if tokens_bos is not None and self.has_decoder:
            dec = self.decoder_logprobs(tokens_bos, enc, enc_lengths)
        return self.ctc_logprobs(enc), dec, enc_lengths
