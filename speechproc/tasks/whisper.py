"""Fine-tuning Whisper (``task: whisper``): teacher-forced cross-entropy, greedy-decoding WER on dev.

Expected hparams: ``modules`` with ``model`` (:class:`~speechproc.models.pretrained.whisper_asr.WhisperASR`),
``tokenizer`` (the model's :class:`~speechproc.models.pretrained.whisper_asr.WhisperTokenizer`),
``input: wave``, optional ``label_smoothing``. Validation decodes greedily and reports ``WER``
and ``CER`` (on the text as it is in the data dir), which ``best_key: WER`` and an
``EpochCounterWithStopper`` use for checkpoint selection and early stopping.

Optional ``l2sp_weight`` (default 0) with ``l2sp_reference`` (default: the model's ``source``): the
:class:`~speechproc.models.pretrained.finetune.L2SP` penalty toward those pretrained weights is added to the
training loss (continual fine-tuning keeps the model near the original pretrained one, not only near the
version it started from).
"""
from __future__ import annotations

from typing import Dict

import speechbrain as sb
import torch

from speechproc.tasks.base import TaskBrain

__all__ = ["WhisperBrain"]


class WhisperBrain(TaskBrain):
    """``compute_forward`` returns ``(logits, targets, hypotheses or None)``."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        wavs, rel = batch.feats
        lengths = self.lengths_from_relative(rel, wavs.shape[1])
        tokens, tok_rel = batch.tokens
        tok_lengths = self.lengths_from_relative(tok_rel, tokens.shape[1])
        model = self.modules.model
        logits, targets = model(wavs, lengths, tokens, tok_lengths)
        hyps = None
        if stage != sb.Stage.TRAIN:
            model = getattr(model, "module", model)
            hyps = model.transcribe(wavs, lengths)
        return logits, targets, hyps

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.l2sp = None
        weight = float(getattr(self.hparams, "l2sp_weight", 0.0) or 0.0)
        if weight > 0:
            from speechproc.models.pretrained.finetune import L2SP

            model = getattr(self.modules.model, "module", self.modules.model)
            reference = getattr(self.hparams, "l2sp_reference", None) or model.tokenizer.path
            self.l2sp = L2SP(model.hf, model.pretrained_state(reference), weight)

    def compute_objectives(self, predictions, batch, stage):
        logits, targets, hyps = predictions
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=-100,
            label_smoothing=float(getattr(self.hparams, "label_smoothing", 0.0)),
        )
        if stage == sb.Stage.TRAIN and getattr(self, "l2sp", None) is not None:
            loss = loss + self.l2sp()
        if hyps is not None:
            mask = targets != -100
            self.stage_metrics["correct"] += int(((logits.argmax(-1) == targets) & mask).sum())
            self.stage_metrics["total"] += int(mask.sum())
            hyp_words = [h.split() for h in hyps]
            ref_words = [t.split() for t in batch.text]
            self.append_error_rates(batch.id, hyp_words, ref_words)
        return loss

    def stage_start_stats(self, stage) -> None:
        if stage != sb.Stage.TRAIN:
            self.start_error_rates()
            self.stage_metrics.update(correct=0, total=0)

    def stage_stats(self, stage) -> Dict[str, float]:
        if stage == sb.Stage.TRAIN:
            return {}
        wer, cer = self.error_rates()
        stats = {"WER": wer, "CER": cer}
        if self.stage_metrics["total"]:
            stats["acc"] = self.stage_metrics["correct"] / self.stage_metrics["total"]
        return stats
