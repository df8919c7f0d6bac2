"""N-best rescoring with the project's token LM (second-pass LM fusion, as ESPnet/Kaldi lattice rescoring do
for a first pass that cannot take the LM inside its search, e.g. Whisper decoded by CTranslate2).

A hypothesis ``h`` of an n-best list (``whisper_decode --nbest``: ``utt rank score tokens text``) scores

    total(h) = score * tokens + lm_weight * log P_LM(normalize(text)) + length_bonus * words(normalize(text))

where ``score * tokens`` is the first pass's total log-probability, ``P_LM`` the LM's probability of the
hypothesis's token sequence followed by ``<sos/eos>`` (natural log), after the same text normalisation the LM was
trained on (``whisper_en`` for an LM of Whisper-normalised transcripts), and ``words`` its word count. The
weights are chosen on a development n-best list by its WER (:func:`tune`), then applied to the test list.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["Hyp", "read_nbest", "LMScorer", "rescore", "tune"]


@dataclass(frozen=True)
class Hyp:
    """One n-best entry: first-pass ``score`` (average log-probability per token) over ``tokens`` tokens."""

    rank: int
    score: float
    tokens: int
    text: str

    @property
    def am_logprob(self) -> float:
        return self.score * self.tokens


def read_nbest(path: PathLike) -> Dict[str, List[Hyp]]:
    """``utt rank score tokens text`` lines -> ``{utt: [Hyp, ...]}`` in rank order. A malformed line is an error
    naming the file, the line and the expected format."""
    out: Dict[str, List[Hyp]] = {}
    p = Path(path)
    if not p.is_file():
        raise SpeechprocError(f"{p}: n-best list not found; write it with whisper_decode --backend ct2 --nbest N")
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(" ", 4)
        try:
            utt, rank, score, tokens = parts[0], int(parts[1]), float(parts[2]), int(parts[3])
        except (IndexError, ValueError):
            raise SpeechprocError(f"{p}, line {i}: expected 'utt rank score tokens text', got {line!r} (an n-best "
                                  f"list of an older whisper_decode has no tokens column: decode again)") from None
        out.setdefault(utt, []).append(Hyp(rank, score, tokens, parts[4] if len(parts) > 4 else ""))
    for hyps in out.values():
        hyps.sort(key=lambda h: h.rank)
    return out


class LMScorer:
    """Log-probability of texts under a trained token LM exp (``lm_dir``), after ``normalize``
    (:func:`speechproc.score.asr.normalize_for_scoring`; the LM's training text must have had the same)."""

    def __init__(self, lm_dir: PathLike, normalize: str = "none") -> None:
        from speechproc.exp import load_trained_modules

        hparams, modules = load_trained_modules(lm_dir)
        if "model" not in modules or "tokenizer" not in hparams:
            raise SpeechprocError(f"{lm_dir}: not an LM exp dir (task lm: modules.model and a tokenizer)")
        self.lm, self.tokenizer, self.normalize = modules["model"].eval(), hparams["tokenizer"], normalize
        self._cache: Dict[str, float] = {}

    def norm(self, text: str) -> str:
        from speechproc.score.asr import normalize_for_scoring

        return normalize_for_scoring(text, self.normalize)

    @torch.no_grad()
    def __call__(self, texts: Sequence[str]) -> List[float]:
        """Natural-log probability of each normalised text followed by ``<sos/eos>``."""
        todo = [t for t in dict.fromkeys(self.norm(t) for t in texts) if t not in self._cache]
        tok = self.tokenizer
        for text in todo:
            ids = tok.encode(text) if text else []
            inp = torch.tensor([[tok.sos_id] + list(ids)])
            tgt = torch.tensor(list(ids) + [tok.eos_id])
            logp = torch.log_softmax(self.lm(inp)[0], dim=-1)
            self._cache[text] = float(logp.gather(-1, tgt[:, None]).sum())
        return [self._cache[self.norm(t)] for t in texts]


def rescore(nbest: Mapping[str, Sequence[Hyp]], lm: Optional[LMScorer], lm_weight: float = 0.0,
            length_bonus: float = 0.0) -> Dict[str, str]:
    """The best hypothesis text of every utterance under ``total(h)`` (module docstring)."""
    out: Dict[str, str] = {}
    for utt, hyps in nbest.items():
        lm_scores = lm([h.text for h in hyps]) if (lm is not None and lm_weight) else [0.0] * len(hyps)
        words = [len((lm.norm(h.text) if lm is not None else h.text).split()) for h in hyps]
        totals = [h.am_logprob + lm_weight * s + length_bonus * w for h, s, w in zip(hyps, lm_scores, words)]
        out[utt] = hyps[max(range(len(hyps)), key=lambda i: (totals[i], -i))].text
    return out


def tune(nbest: Mapping[str, Sequence[Hyp]], refs: Mapping[str, str], lm: LMScorer, lm_weights: Sequence[float],
         length_bonuses: Sequence[float], normalize: str = "whisper_en") -> Tuple[float, float, List[dict]]:
    """Grid search of ``(lm_weight, length_bonus)`` by the WER of :func:`rescore` on a development list.

    Returns ``(lm_weight, length_bonus, grid)`` with ``grid`` the WER of every pair; ties go to the smaller
    weights (the first pass's own choice when nothing helps)."""
    from speechproc.score.asr import score

    missing = sorted(set(refs) - set(nbest))
    if missing:
        raise SpeechprocError(f"{len(missing)} reference utterances have no n-best entry (first: {missing[0]}); "
                              f"decode the same data dir as the references")
    grid = []
    for w in lm_weights:
        for b in length_bonuses:
            hyps = rescore(nbest, lm, w, b)
            wer = score(refs, hyps, normalize=normalize).totals.rate
            grid.append({"lm_weight": w, "length_bonus": b, "wer": round(wer, 3)})
    best = min(grid, key=lambda g: (g["wer"], g["lm_weight"], abs(g["length_bonus"])))
    return best["lm_weight"], best["length_bonus"], grid
