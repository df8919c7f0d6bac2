"""Using a trained token LM: perplexity of sentences and sampling text (temperature, top-k, prompt)."""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import torch

__all__ = ["sentence_nll", "perplexity", "sample"]


@torch.no_grad()
def sentence_nll(lm: torch.nn.Module, ids: Sequence[int], sos: int, eos: int) -> float:
    """Negative log-likelihood (nats) of ``ids`` followed by ``eos``, given ``sos``."""
    inp = torch.tensor([[sos] + list(ids)])
    tgt = torch.tensor(list(ids) + [eos])
    logp = torch.log_softmax(lm(inp)[0], dim=-1)
    return float(-logp.gather(-1, tgt[:, None]).sum())


@torch.no_grad()
def perplexity(lm: torch.nn.Module, tokenizer, sentences: Sequence[str]) -> Dict[str, float]:
    """Token perplexity (``<sos/eos>`` counted as a token, as in ESPnet) and total NLL of ``sentences``."""
    lm.eval()
    nll, count, n = 0.0, 0, 0
    for text in sentences:
        ids = tokenizer.encode(text)
        if not ids:
            continue
        nll += sentence_nll(lm, ids, tokenizer.sos_id, tokenizer.eos_id)
        count += len(ids) + 1
        n += 1
    if count == 0:
        raise ValueError("no non-empty sentence to compute a perplexity on")
    return {"ppl": math.exp(nll / count), "nll": nll, "tokens": count, "sentences": n}


@torch.no_grad()
def sample(lm: torch.nn.Module, tokenizer, prompt: str = "", max_tokens: int = 50, temperature: float = 1.0,
           top_k: Optional[int] = None, num_samples: int = 1, seed: Optional[int] = None) -> List[str]:
    """Sample continuations of ``prompt`` until ``<sos/eos>`` or ``max_tokens``.

    Args:
        temperature: logits are divided by it (> 0; small = greedy-like).
        top_k: sample among the ``k`` most likely tokens only (None: all).
        seed: RNG seed for reproducible samples.

    Returns:
        ``num_samples`` texts (prompt included).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    lm.eval()
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    banned = [tokenizer.blank_id, tokenizer.unk_id]
    out = []
    for _ in range(num_samples):
        ids = [tokenizer.sos_id] + tokenizer.encode(prompt)
        for _ in range(max_tokens):
            logits = lm(torch.tensor([ids]))[0, -1] / temperature
            logits[banned] = float("-inf")
            if top_k is not None and top_k < logits.shape[0]:
                kth = torch.topk(logits, top_k).values[-1]
                logits[logits < kth] = float("-inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
            if nxt == tokenizer.eos_id:
                break
            ids.append(nxt)
        out.append(tokenizer.decode(ids[1:]))
    return out
