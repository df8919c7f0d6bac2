"""Token language model training (``task: lm``).

Expected hparams: ``modules.model`` (:class:`~speechproc.models.lm.TransformerLM`), ``tokenizer``,
``train_text`` (data dir or text file), ``valid_text``, optional ``extra_text`` (list of text files;
``.csv`` files in LJSpeech's ``id|text|normalized`` layout use their last field) cleaned with
``extra_text_cleaners``. Batches: ``tokens_bos``/``tokens_eos`` ``(B, L)``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import speechbrain as sb
import torch

from speechproc.tasks.base import TaskBrain
from speechproc.utils import SpeechprocError

__all__ = ["LMBrain", "lm_datasets", "read_text_source"]


def read_text_source(path: str, cleaners: Sequence[str] = ()) -> List[str]:
    """Sentences of a data dir (its ``text``), a text file, or an ``id|...|text`` csv, cleaned."""
    from speechproc.text.normalize import clean
    from speechproc.text.tokenizer import load_training_text

    p = Path(path)
    if p.suffix == ".csv" and p.is_file():
        lines = [ln.rsplit("|", 1)[-1] for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        lines = load_training_text(p)
    lines = [clean(ln, list(cleaners)) if cleaners else ln for ln in lines]
    return [ln for ln in lines if ln.strip()]


def lm_datasets(hparams: dict) -> Tuple[object, object]:
    """Train and valid datasets of the LM task from the yaml's text sources."""
    from speechproc.data.dataset import make_text_dataset

    tok = hparams["tokenizer"]
    train = read_text_source(hparams["train_text"])
    for extra in hparams.get("extra_text") or []:
        more = read_text_source(extra, hparams.get("extra_text_cleaners") or [])
        train += more
    valid = read_text_source(hparams["valid_text"])
    if not train or not valid:
        raise SpeechprocError("LM training needs non-empty train_text and valid_text")
    return make_text_dataset(train, tok), make_text_dataset(valid, tok)


class LMBrain(TaskBrain):
    """Next-token cross-entropy; stats: token perplexity."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        tokens_bos, _ = batch.tokens_bos
        return torch.log_softmax(self.modules.model(tokens_bos), dim=-1)

    def compute_objectives(self, logp, batch, stage):
        tokens_eos, rel = batch.tokens_eos
        lengths = self.lengths_from_relative(rel, tokens_eos.shape[1])
        mask = torch.arange(tokens_eos.shape[1], device=logp.device)[None] < lengths[:, None]
        nll = -logp.gather(-1, tokens_eos[..., None])[..., 0]
        total = float(mask.sum())
        loss = (nll * mask).sum() / max(total, 1.0)
        if stage != sb.Stage.TRAIN:
            self.stage_metrics["nll"] += float((nll * mask).sum())
            self.stage_metrics["tokens"] += total
        ls = float(getattr(self.hparams, "label_smoothing", 0.0) or 0.0)
        if stage == sb.Stage.TRAIN and ls > 0:
            smooth = -(logp.mean(-1) * mask).sum() / max(total, 1.0)
            loss = (1 - ls) * loss + ls * smooth
        return loss

    def stage_start_stats(self, stage) -> None:
        self.stage_metrics.update(nll=0.0, tokens=0.0)

    def stage_stats(self, stage) -> Dict[str, float]:
        if stage == sb.Stage.TRAIN or not self.stage_metrics["tokens"]:
            return {}
        return {"ppl": math.exp(self.stage_metrics["nll"] / self.stage_metrics["tokens"])}
