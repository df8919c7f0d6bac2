"""Tacotron 2 acoustic model (SpeechBrain lobes) with a reduction factor and a guided-attention loss.

The encoder (conv stack + BiLSTM), the location-sensitive attention decoder (prenet, attention
LSTM, decoder LSTM, ``r`` frames per step) and the postnet are SpeechBrain's
(``speechbrain.lobes.models.Tacotron2``). This module wires them batch first with explicit
lengths, handles the reduction factor ``r`` consistently (targets padded to a multiple of ``r``,
one stop-token logit and one attention row per decoder step), and runs free inference with a
stop threshold, a minimum and a maximum length.

Shapes: tokens ``(B, L)``, mels ``(B, T, n_mels)`` (normalised log-mel), alignments
``(B, ceil(T / r), L)``.

The loss (:class:`Tacotron2Loss`) is ESPnet's: L1 + MSE of the mel before and after the postnet
(masked to the valid frames), a stop-token BCE with a positive weight, and the guided-attention
loss of Tachibana et al. (2017), ``W[n, t] = 1 - exp(-(n / N - t / T)^2 / (2 g^2))`` over decoder
steps ``t`` and tokens ``n``, averaged over the valid region.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from speechbrain.lobes.models.Tacotron2 import Decoder, Encoder, Postnet
from torch import nn

__all__ = ["Tacotron2", "Tacotron2Loss", "guided_attention_weights", "lengths_to_mask"]


def lengths_to_mask(lengths: torch.Tensor, max_len: Optional[int] = None) -> torch.Tensor:
    """``(B, max_len)`` bool mask, True on valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class Tacotron2(nn.Module):
    """Tacotron 2 on SpeechBrain's blocks.

    Args:
        vocab_size: number of input symbols (token ids ``0 .. vocab_size - 1``; 0 is padding).
        n_mels: mel bins.
        reduction_factor: frames emitted per decoder step (``r``).
        embedding_dim: symbol embedding size (= encoder size).
        encoder_n_convolutions, encoder_kernel_size: encoder conv stack (kernel must be odd).
        attention_rnn_dim, decoder_rnn_dim, attention_dim: LSTM and attention sizes.
        attention_location_n_filters, attention_location_kernel_size: location features.
        prenet_dim: prenet size.
        postnet_embedding_dim, postnet_kernel_size, postnet_n_convolutions: postnet.
        p_attention_dropout, p_decoder_dropout: zoneout-like dropout on the LSTM states.
        max_decoder_steps: hard cap of decoder steps at inference.
        gate_threshold: stop when ``sigmoid(stop logit) > gate_threshold``.
    """

    encoder_modules = ("embedding", "encoder")  # the text side, frozen by strategy freeze_encoder

    def __init__(
        self,
        vocab_size: int,
        n_mels: int = 80,
        reduction_factor: int = 1,
        embedding_dim: int = 512,
        encoder_n_convolutions: int = 3,
        encoder_kernel_size: int = 5,
        attention_rnn_dim: int = 1024,
        decoder_rnn_dim: int = 1024,
        attention_dim: int = 128,
        attention_location_n_filters: int = 32,
        attention_location_kernel_size: int = 31,
        prenet_dim: int = 256,
        postnet_embedding_dim: int = 512,
        postnet_kernel_size: int = 5,
        postnet_n_convolutions: int = 5,
        p_attention_dropout: float = 0.1,
        p_decoder_dropout: float = 0.1,
        max_decoder_steps: int = 1000,
        gate_threshold: float = 0.5,
    ) -> None:
        super().__init__()
        if reduction_factor < 1:
            raise ValueError(f"reduction_factor must be >= 1, got {reduction_factor}")
        if encoder_kernel_size % 2 == 0:
            raise ValueError(f"encoder_kernel_size must be odd to keep the sequence length, got {encoder_kernel_size}")
        self.vocab_size = vocab_size
        self.n_mels = n_mels
        self.r = reduction_factor
        self.gate_threshold = gate_threshold
        self.max_decoder_steps = max_decoder_steps
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        std = math.sqrt(2.0 / (vocab_size + embedding_dim))
        self.embedding.weight.data.uniform_(-math.sqrt(3.0) * std, math.sqrt(3.0) * std)
        self.encoder = Encoder(encoder_n_convolutions, embedding_dim, encoder_kernel_size)
        self.decoder = Decoder(n_mels, reduction_factor, embedding_dim, attention_dim, attention_location_n_filters,
                               attention_location_kernel_size, attention_rnn_dim, decoder_rnn_dim, prenet_dim,
                               max_decoder_steps, gate_threshold, p_attention_dropout, p_decoder_dropout, True)
        self.postnet = Postnet(n_mels, postnet_embedding_dim, postnet_kernel_size, postnet_n_convolutions)

    def embed_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """Encoder input ``(B, L, embedding_dim)`` of the model's inputs (token ids here)."""
        return self.embedding(tokens)

    def encode(self, tokens: torch.Tensor, token_lengths: torch.Tensor) -> torch.Tensor:
        """Encoder states ``(B, L, embedding_dim)`` (any order of lengths)."""
        order = torch.argsort(token_lengths, descending=True)
        x = self.embed_inputs(tokens[order]).transpose(1, 2)
        enc = self.encoder(x, token_lengths[order])
        enc = nn.functional.pad(enc, (0, 0, 0, tokens.shape[1] - enc.shape[1]))
        out = torch.empty_like(enc)
        out[order] = enc
        return out

    def forward(self, tokens: torch.Tensor, token_lengths: torch.Tensor, mels: torch.Tensor,
                mel_lengths: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Teacher-forced pass.

        Args:
            tokens: ``(B, L)`` token ids; token_lengths ``(B,)``.
            mels: ``(B, T, n_mels)`` target mels; mel_lengths ``(B,)``.

        Returns:
            dict with ``mel_before``/``mel_after`` ``(B, T_r, n_mels)`` where ``T_r`` is ``T``
            rounded up to a multiple of ``r``, ``gate`` ``(B, T_r / r)`` stop logits,
            ``alignments`` ``(B, T_r / r, L)``.
        """
        memory = self.encode(tokens, token_lengths)
        T = mels.shape[1]
        pad = (-T) % self.r
        targets = nn.functional.pad(mels, (0, 0, 0, pad)).transpose(1, 2)  # (B, n_mels, T_r)
        mel, gate, align = self.decoder(memory, targets, memory_lengths=token_lengths)
        post = mel + self.postnet(mel)
        return {"mel_before": mel.transpose(1, 2), "mel_after": post.transpose(1, 2), "gate": gate,
                "alignments": align}

    @torch.no_grad()
    def infer(self, tokens: torch.Tensor, token_lengths: Optional[torch.Tensor] = None, max_len_ratio: float = 10.0,
              min_len_ratio: float = 0.0, attention_window: Optional[Tuple[int, int]] = None,
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Free-running synthesis.

        Args:
            tokens: ``(B, L)``; token_lengths ``(B,)`` (default all ``L``).
            max_len_ratio: at most ``max_len_ratio * L`` frames (and ``max_decoder_steps`` steps).
            min_len_ratio: no stop before ``min_len_ratio * L`` frames.
            attention_window: ``(backward, forward)``: each step may attend only to the inputs within
                that many positions of the previous step's attention peak (ESPnet's attention
                constraint, ``use_att_constraint`` with ``backward_window``/``forward_window``); keeps
                free-running attention from skipping or going back. None: unconstrained.

        Returns:
            ``(mel (B, T, n_mels), mel_lengths (B,), alignments (B, T / r, L))``.
        """
        if token_lengths is None:
            token_lengths = torch.full((tokens.shape[0],), tokens.shape[1], dtype=torch.long, device=tokens.device)
        memory = self.encode(tokens, token_lengths)
        dec = self.decoder
        mask = ~lengths_to_mask(token_lengths, memory.shape[1])
        states = list(dec.initialize_decoder_states(memory))
        frame = dec.get_go_frame(memory)
        B = tokens.shape[0]
        max_steps = min(self.max_decoder_steps, int(math.ceil(max_len_ratio * int(token_lengths.max()) / self.r)))
        min_steps = (min_len_ratio * token_lengths.float() / self.r).ceil().long()
        steps = torch.zeros(B, dtype=torch.long, device=tokens.device)
        done = torch.zeros(B, dtype=torch.bool, device=tokens.device)
        outs, aligns = [], []
        positions = torch.arange(memory.shape[1], device=tokens.device)[None]
        peak = torch.zeros(B, 1, dtype=torch.long, device=tokens.device)
        for step in range(max_steps):
            step_mask = mask
            if attention_window is not None and step > 0:
                back, fwd = attention_window
                step_mask = mask | (positions < peak - back) | (positions > peak + fwd)
            out = dec.decode(dec.prenet(frame), *states[:7], memory, states[7], step_mask)
            frame, gate = out[0], out[1]
            states[:7] = out[2:]
            outs.append(frame)
            aligns.append(out[6])
            peak = out[6].argmax(-1, keepdim=True)
            steps = torch.where(done, steps, steps + 1)
            stop = (torch.sigmoid(gate[:, 0]) > self.gate_threshold) & (steps >= min_steps)
            done = done | stop
            if bool(done.all()):
                break
        mel = torch.stack(outs, 1).view(B, -1, self.n_mels)  # (B, steps * r, n_mels)
        post = mel + self.postnet(mel.transpose(1, 2)).transpose(1, 2)
        lengths = steps * self.r
        return post, lengths, torch.stack(aligns, 1)


def guided_attention_weights(token_lengths: torch.Tensor, step_lengths: torch.Tensor, sigma: float,
                             max_tokens: int, max_steps: int) -> torch.Tensor:
    """Penalty ``(B, max_steps, max_tokens)``: ``1 - exp(-(n/N - t/T)^2 / (2 sigma^2))``, 0 outside."""
    t = torch.arange(max_steps, device=token_lengths.device)[None, :, None].float()
    n = torch.arange(max_tokens, device=token_lengths.device)[None, None, :].float()
    T = step_lengths[:, None, None].float()
    N = token_lengths[:, None, None].float()
    w = 1.0 - torch.exp(-((n / N - t / T) ** 2) / (2.0 * sigma * sigma))
    valid = (t < T) & (n < N)
    return w * valid


class Tacotron2Loss(nn.Module):
    """Masked L1 + MSE mel loss, stop-token BCE and guided-attention loss.

    Args:
        guided_attention_sigma: width ``g`` of the diagonal (0.4 as ESPnet).
        guided_attention_weight: weight of the attention loss (0 disables it).
        gate_pos_weight: BCE weight of the stop (positive) steps (ESPnet's ``bce_pos_weight``).
    """

    def __init__(self, guided_attention_sigma: float = 0.4, guided_attention_weight: float = 1.0,
                 gate_pos_weight: float = 5.0) -> None:
        super().__init__()
        self.sigma = guided_attention_sigma
        self.attn_weight = guided_attention_weight
        self.gate_pos_weight = gate_pos_weight

    def forward(self, out: Dict[str, torch.Tensor], mels: torch.Tensor, mel_lengths: torch.Tensor,
                token_lengths: torch.Tensor, r: int) -> Dict[str, torch.Tensor]:
        """Losses of a :meth:`Tacotron2.forward` output against ``mels`` ``(B, T, n_mels)``.

        Returns:
            dict ``loss`` (total), ``mel_loss``, ``gate_loss``, ``attn_loss``.
        """
        T = mels.shape[1]
        before, after = out["mel_before"][:, :T], out["mel_after"][:, :T]
        mask = lengths_to_mask(mel_lengths, T)[..., None].float()
        denom = mask.sum() * mels.shape[2]
        mel_loss = sum(((x - mels).abs() * mask).sum() / denom + (((x - mels) ** 2) * mask).sum() / denom
                       for x in (before, after))
        gate = out["gate"]
        steps = (mel_lengths + r - 1) // r
        step_mask = lengths_to_mask(steps, gate.shape[1])
        target = (torch.arange(gate.shape[1], device=gate.device)[None, :] >= (steps - 1)[:, None]).float()
        bce = nn.functional.binary_cross_entropy_with_logits(
            gate, target, pos_weight=torch.tensor(self.gate_pos_weight, device=gate.device), reduction="none")
        gate_loss = (bce * step_mask).sum() / step_mask.sum()
        if self.attn_weight > 0:
            align = out["alignments"]
            w = guided_attention_weights(token_lengths, steps, self.sigma, align.shape[2], align.shape[1])
            attn_loss = self.attn_weight * (align * w).sum() / w.gt(0).sum().clamp(min=1)
        else:
            attn_loss = torch.zeros((), device=mels.device)
        return {"loss": mel_loss + gate_loss + attn_loss, "mel_loss": mel_loss.detach(),
                "gate_loss": gate_loss.detach(), "attn_loss": attn_loss.detach()}
