"""SpeechBrain's Transformer beam searcher, with pure-CTC decoding fixed and an incremental decoder.

With ``ctc_weight: 1.0`` SpeechBrain's ``S2SBeamSearcher`` skips the attention decoder, but then
hands the previous step's score tensor, which its scorers have already added to in place, back as
the next step's base scores. The scores pile up over the steps and the search emits tokens the
CTC model never predicts (``<unk>`` runs on yesno, runaway insertions). :class:`JointBeamSearcher`
starts each such step from zeros, so ``ctc_weight: 1.0`` is a real CTC prefix beam search (with LM
shallow fusion when ``lm_weight`` > 0).

Speed: SpeechBrain's ``S2STransformerBeamSearcher`` runs the whole decoder over the whole prefix at every
step and projects the encoder states into keys and values again in every cross-attention of every step,
so a step costs ``O(L * T)`` and the search ``O(L^2 * T)``; on AN4 that was about nine tenths of the
decoding time. :class:`CachedTransformerDecoder` evaluates the same decoder (SpeechBrain's pre-norm
``TransformerDecoder`` with regular multi-head attention) one position at a time: the encoder's keys and
values are projected once per utterance, each layer's self-attention keeps the keys and values of the
earlier positions (reordered with the beams), and only the new position is computed. The log-probabilities
are those of the full recomputation (to float rounding; tested), so the search returns the same hypotheses.

The language model of shallow fusion (:class:`FastTransformerLMScorer`) is run the same way: SpeechBrain's
``TransformerLMScorer`` feeds the whole prefix through the LM at every step; this one keeps each layer's keys
and values and computes only the new position (the same log-probabilities, tested).

The CTC prefix score (:class:`FastCTCScorer`) is SpeechBrain's ``CTCPrefixScore`` with its per-hypothesis Python
loops replaced by indexing, the beam-inflated posteriors built once per utterance batch instead of at every
step, and two ``logaddexp`` per frame instead of a stack and a ``logsumexp``: the same scores (tested).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
from speechbrain.decoders import S2STransformerBeamSearcher
from speechbrain.decoders.ctc import CTCPrefixScore
from speechbrain.decoders.scorer import CTCScorer as _SpeechBrainCTCScorer
from speechbrain.decoders.scorer import TransformerLMScorer as _SpeechBrainTransformerLMScorer
from torch.nn import functional as F

__all__ = ["CachedTransformerDecoder", "DecoderCache", "FastCTCScorer", "FastTransformerLMScorer", "JointBeamSearcher",
           "LMCache"]


@dataclass
class DecoderCache:
    """Search state of :class:`CachedTransformerDecoder` for ``N = B * beam`` hypotheses (the ``beam`` rows of an
    utterance together): per layer the encoder keys/values ``(B, H, T, Dh)``, once per utterance, with the padding
    mask ``(B, 1, 1, T)``, and the self-attention keys/values ``(N, H, t, Dh)`` of the ``t`` positions so far."""

    cross: List[Tuple[torch.Tensor, torch.Tensor]]
    pad: Optional[torch.Tensor]
    beam: int = 1
    self_kv: List[Optional[Tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=list)
    step: int = 0

    def select(self, index: torch.Tensor) -> "DecoderCache":
        """The state of the hypotheses ``index`` (beam reordering: rows of the same utterance, whose encoder
        keys/values are the same)."""
        self.self_kv = [None if kv is None else (kv[0].index_select(0, index), kv[1].index_select(0, index))
                        for kv in self.self_kv]
        return self


class CachedTransformerDecoder:
    """Position-by-position evaluation of the decoder of a SpeechBrain ``TransformerASR`` (pre-norm layers,
    ``regularMHA``, eval mode), equal to ``TransformerASR.decode`` on the whole prefix."""

    def __init__(self, transformer) -> None:
        self.t = transformer
        layers = transformer.decoder.layers
        if transformer.attention_type not in ("RelPosMHAXL", "RoPEMHA") and \
                getattr(transformer, "positional_encoding_type", None) != "fixed_abs_sine":
            raise ValueError("the cached decoder needs sinusoidal target positions (fixed_abs_sine)")
        if not layers or not all(getattr(layer, "normalize_before", False) for layer in layers):
            raise ValueError("the cached decoder needs pre-norm decoder layers (normalize_before: True)")
        for layer in layers:
            for att in (layer.self_attn, layer.multihead_attn):
                inner = getattr(att, "att", None)
                if not isinstance(inner, torch.nn.MultiheadAttention) or not inner._qkv_same_embed_dim:
                    raise ValueError("the cached decoder needs regular multi-head attention in the decoder")
        self.layers = layers
        self.nhead = layers[0].self_attn.att.num_heads

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        return x.view(n, t, self.nhead, d // self.nhead).transpose(1, 2)           # (N, H, t, Dh)

    @torch.no_grad()
    def start(self, enc: torch.Tensor, enc_lens: Optional[torch.Tensor], beam: int = 1) -> DecoderCache:
        """Project the encoder states ``(N, T, D)`` (valid lengths ``(N,)``) into each layer's keys and values;
        ``beam``: rows come in groups of ``beam`` copies of one utterance (SpeechBrain's inflated encoder states),
        whose keys and values are computed and read once."""
        if enc.shape[0] % beam:
            raise ValueError(f"{enc.shape[0]} encoder rows are not groups of beam {beam}")
        enc = enc[::beam]
        enc_lens = None if enc_lens is None else enc_lens[::beam]
        T = enc.shape[1]
        pad = None
        if enc_lens is not None:
            pad = (torch.arange(T, device=enc.device)[None, :] >= enc_lens.to(enc.device)[:, None])[:, None, None, :]
        cross = []
        for layer in self.layers:
            att = layer.multihead_attn.att
            d = att.embed_dim
            w, b = att.in_proj_weight, att.in_proj_bias
            k = F.linear(enc, w[d: 2 * d], None if b is None else b[d: 2 * d])
            v = F.linear(enc, w[2 * d:], None if b is None else b[2 * d:])
            cross.append((self._split(k), self._split(v)))
        return DecoderCache(cross=cross, pad=pad, self_kv=[None] * len(self.layers), beam=beam)

    def _attend(self, q, k, v, mask=None):
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])                  # (., H, q, S)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        return torch.softmax(scores, dim=-1) @ v                                   # (., H, q, Dh)

    @staticmethod
    def _merge(x: torch.Tensor) -> torch.Tensor:
        n, h, t, dh = x.shape
        return x.transpose(1, 2).reshape(n, t, h * dh)

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, cache: DecoderCache) -> Tuple[torch.Tensor, DecoderCache]:
        """Decoder output ``(N, D)`` (after the final norm) at the position of ``tokens`` ``(N,)``, the inputs of
        position ``cache.step``; the cache then holds that position too."""
        t = self.t
        x = t.custom_tgt_module(tokens[:, None])                                  # (N, 1, D)
        # the target positions as TransformerASR.decode adds them (RelPosMHAXL models: a decoder table of their own)
        table = t.positional_encoding_decoder if t.attention_type in ("RelPosMHAXL", "RoPEMHA") else t.positional_encoding
        x = x + table(x.new_empty(1, cache.step + 1, x.shape[-1]))[:, -1:]
        for i, layer in enumerate(self.layers):
            att = layer.self_attn.att
            h = layer.norm1(x)
            q, k, v = F.linear(h, att.in_proj_weight, att.in_proj_bias).chunk(3, dim=-1)
            q, k, v = self._split(q), self._split(k), self._split(v)
            prev = cache.self_kv[i]
            if prev is not None:
                k, v = torch.cat([prev[0], k], 2), torch.cat([prev[1], v], 2)
            cache.self_kv[i] = (k, v)
            x = x + att.out_proj(self._merge(self._attend(q, k, v)))
            catt = layer.multihead_attn.att
            d = catt.embed_dim
            h = layer.norm2(x)
            b = catt.in_proj_bias
            q = self._split(F.linear(h, catt.in_proj_weight[:d], None if b is None else b[:d]))
            ck, cv = cache.cross[i]
            n, H, _, dh = q.shape
            qb = q.view(n // cache.beam, cache.beam, H, dh).transpose(1, 2)        # (B, H, beam, Dh)
            ctx = self._attend(qb, ck, cv, cache.pad).transpose(1, 2).reshape(n, H, 1, dh)
            x = x + catt.out_proj(self._merge(ctx))
            x = x + layer.pos_ffn(layer.norm3(x))
        cache.step += 1
        return t.decoder.norm(x)[:, 0], cache


class JointBeamSearcher(S2STransformerBeamSearcher):
    """``S2STransformerBeamSearcher`` whose pure-CTC steps (attention weight 0) start from zero scores, and whose
    attention steps run :class:`CachedTransformerDecoder` (``cached: False``: SpeechBrain's full recomputation)."""

    def __init__(self, modules, cached: bool = True, **kwargs) -> None:
        super().__init__(modules, **kwargs)
        self.cached = CachedTransformerDecoder(self.model) if cached else None

    def _attn_weight_step(self, inp_tokens, memory, enc_states, enc_lens, attn, log_probs):
        if self.attn_weight > 0:
            return super()._attn_weight_step(inp_tokens, memory, enc_states, enc_lens, attn, log_probs)
        return torch.zeros_like(log_probs), memory, attn

    def permute_mem(self, memory, index):
        if isinstance(memory, DecoderCache):
            return memory.select(index)
        return super().permute_mem(memory, index)

    def forward_step(self, inp_tokens, memory, enc_states, enc_lens):
        if self.cached is None:
            return super().forward_step(inp_tokens, memory, enc_states, enc_lens)
        if memory is None:
            memory = self.cached.start(enc_states, enc_lens, beam=self.beam_size)
        out, memory = self.cached.step(inp_tokens, memory)
        prob = self.softmax(self.fc(out) / self.temperature)
        return prob, memory, None


class _FastCTCPrefixScore(CTCPrefixScore):
    """SpeechBrain's CTC prefix scorer; full-vocabulary steps without Python loops over the hypotheses."""

    _x_inflate = None

    @torch.no_grad()
    def forward_step(self, inp_tokens, states, candidates=None, attn=None):
        if candidates is not None or (self.ctc_window_size and attn is not None):
            return super().forward_step(inp_tokens, states, candidates, attn)
        n_bh = inp_tokens.size(0)
        beam = n_bh // self.batch_size
        self.prefix_length += 1
        V = self.num_candidates = self.vocab_size
        T = self.max_enc_len
        rows = torch.arange(n_bh, device=self.device)
        if states is None:
            r_prev = torch.full((T, 2, self.batch_size, beam), self.minus_inf, device=self.device)
            r_prev[:, 1] = torch.cumsum(self.x[0, :, :, self.blank_index], 0).unsqueeze(2)
            r_prev = r_prev.view(-1, 2, n_bh)
            psi_prev = torch.zeros((n_bh, V), device=self.device)
        else:
            r_prev, psi_prev = states
        if self._x_inflate is None or self._x_inflate.shape[2] != n_bh:
            self._x_inflate = self.x.unsqueeze(3).repeat(1, 1, 1, beam, 1).view(2, -1, n_bh, V)
        x = self._x_inflate
        r = torch.full((T, 2, n_bh, V), self.minus_inf, device=self.device)
        if self.prefix_length == 0:
            r[0, 0] = x[0, 0]
        r_sum = torch.logsumexp(r_prev, 1)                                       # (T, n_bh)
        phi = r_sum.unsqueeze(2).repeat(1, 1, V)
        phi[:, rows, inp_tokens] = r_prev[:, 1, :]                               # same label: only after a blank
        start, end = max(1, self.prefix_length), T
        for t in range(start, end):
            prev = r[t - 1]
            r[t] = torch.logaddexp(prev[0:1], torch.stack((phi[t - 1], prev[1]))) + x[:, t]
        psi_init = r[start - 1, 0].unsqueeze(0)
        phix = torch.cat((phi[0].unsqueeze(0), phi[:-1]), dim=0) + x[0]
        psi = torch.logsumexp(torch.cat((phix[start:end], psi_init), dim=0), dim=0)
        last = self.last_frame_index.to(self.device).repeat_interleave(beam)
        psi[:, self.eos_index] = r_sum[last, rows]
        if self.eos_index != self.blank_index:
            psi[:, self.blank_index] = self.minus_inf
        return psi - psi_prev, (r, psi, None)


class CTCScorer(_SpeechBrainCTCScorer):
    """SpeechBrain's ``CTCScorer`` with :class:`_FastCTCPrefixScore` (same scores, fewer Python operations).

    It keeps SpeechBrain's class name: ``ScorerBuilder`` keys the scorer weights by it (``ctc``)."""

    def reset_mem(self, x, enc_lens):
        super().reset_mem(x, enc_lens)
        self.ctc_score.__class__ = _FastCTCPrefixScore


FastCTCScorer = CTCScorer


@dataclass
class LMCache:
    """Shallow-fusion state of :class:`FastTransformerLMScorer`: per LM layer the keys/values ``(N, H, t, Dh)`` of
    the ``t`` prefix positions of each of the ``N`` hypotheses."""

    kv: List[Optional[Tuple[torch.Tensor, torch.Tensor]]]
    step: int = 0


class TransformerLMScorer(_SpeechBrainTransformerLMScorer):
    """SpeechBrain's ``TransformerLMScorer`` that evaluates the LM (a SpeechBrain ``TransformerLM``: pre-norm
    causal encoder layers with regular multi-head attention, no decoder layers) one position at a time with
    cached keys and values instead of re-running the whole prefix at every step. Same log-probabilities.

    It keeps SpeechBrain's class name: ``ScorerBuilder`` keys the scorer weights by it (``transformerlm``)."""

    def __init__(self, language_model, temperature: float = 1.0) -> None:
        super().__init__(language_model, temperature)
        lm = language_model
        layers = lm.encoder.layers if getattr(lm, "num_encoder_layers", 0) else []
        if not layers or getattr(lm, "num_decoder_layers", 0):
            raise ValueError("the cached LM scorer needs a TransformerLM with encoder layers only")
        for layer in layers:
            inner = getattr(layer.self_att, "att", None)
            if not getattr(layer, "normalize_before", False) or not isinstance(inner, torch.nn.MultiheadAttention):
                raise ValueError("the cached LM scorer needs pre-norm layers with regular multi-head attention")
        if getattr(lm, "attention_type", "regularMHA") != "regularMHA":
            raise ValueError("the cached LM scorer needs attention_type regularMHA")
        self.layers = layers
        self.nhead = layers[0].self_att.att.num_heads

    @torch.no_grad()
    def score(self, inp_tokens, memory, candidates, attn):
        lm = self.lm
        if memory is None:
            memory = LMCache(kv=[None] * len(self.layers))
        x = lm.custom_src_module(inp_tokens[:, None])
        if lm.embedding_proj is not None:
            x = lm.embedding_proj(x)
        x = x + lm.positional_encoding(x.new_empty(1, memory.step + 1, x.shape[-1]))[:, -1:]
        for i, layer in enumerate(self.layers):
            att = layer.self_att.att
            n, _, d = x.shape
            q, k, v = F.linear(layer.norm1(x), att.in_proj_weight, att.in_proj_bias).chunk(3, dim=-1)
            q, k, v = (t.view(n, 1, self.nhead, d // self.nhead).transpose(1, 2) for t in (q, k, v))
            prev = memory.kv[i]
            if prev is not None:
                k, v = torch.cat([prev[0], k], 2), torch.cat([prev[1], v], 2)
            memory.kv[i] = (k, v)
            ctx = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1) @ v
            x = x + att.out_proj(ctx.transpose(1, 2).reshape(n, 1, d))
            x = x + layer.pos_ffn(layer.norm2(x))
        memory.step += 1
        logits = lm.output_proj(lm.encoder.norm(x))[:, 0]
        return torch.log_softmax(logits / self.temperature, dim=-1), memory

    def permute_mem(self, memory, index):
        memory.kv = [None if kv is None else (kv[0].index_select(0, index), kv[1].index_select(0, index))
                     for kv in memory.kv]
        return memory


FastTransformerLMScorer = TransformerLMScorer
