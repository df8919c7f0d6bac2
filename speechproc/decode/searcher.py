"""SpeechBrain's Transformer beam searcher with pure-CTC decoding fixed.

With ``ctc_weight: 1.0`` SpeechBrain's ``S2SBeamSearcher`` skips the attention decoder, but then
hands the previous step's score tensor, which its scorers have already added to in place, back as
the next step's base scores. The scores pile up over the steps and the search emits tokens the
CTC model never predicts (``<unk>`` runs on yesno, runaway insertions). :class:`JointBeamSearcher`
starts each such step from zeros, so ``ctc_weight: 1.0`` is a real CTC prefix beam search (with LM
shallow fusion when ``lm_weight`` > 0); every other setting is SpeechBrain's search unchanged.
"""
from __future__ import annotations

import torch
from speechbrain.decoders import S2STransformerBeamSearcher

__all__ = ["JointBeamSearcher"]


class JointBeamSearcher(S2STransformerBeamSearcher):
    """``S2STransformerBeamSearcher`` whose pure-CTC steps (attention weight 0) start from zero scores."""

    def _attn_weight_step(self, inp_tokens, memory, enc_states, enc_lens, attn, log_probs):
        if self.attn_weight > 0:
            return super()._attn_weight_step(inp_tokens, memory, enc_states, enc_lens, attn, log_probs)
        return torch.zeros_like(log_probs), memory, attn
