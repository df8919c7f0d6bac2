"""CTC helpers shared by training (validation WER) and inference (greedy CTC decoding)."""
from __future__ import annotations

from typing import List

import torch

__all__ = ["ctc_greedy_ids"]


def ctc_greedy_ids(ctc_logprobs: torch.Tensor, lengths: torch.Tensor, blank: int = 0) -> List[List[int]]:
    """Best-path CTC decoding: argmax per frame, merge repeats, drop blanks.

    Args:
        ctc_logprobs: ``(B, T, V)``.
        lengths: ``(B,)`` valid frames.
        blank: blank id.

    Returns:
        one token-id list per utterance.
    """
    best = ctc_logprobs.argmax(dim=-1).cpu()
    out = []
    for b, n in enumerate(lengths.tolist()):
        seq = torch.unique_consecutive(best[b, : int(n)]).tolist()
        out.append([t for t in seq if t != blank])
    return out
