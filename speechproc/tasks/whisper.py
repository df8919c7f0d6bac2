"""Fine-tuning Whisper (``task: whisper``): teacher-forced cross-entropy, greedy-decoding WER on dev.

Expected hparams: ``modules`` with ``model`` (:class:`~speechproc.models.pretrained.whisper_asr.WhisperASR`),
``tokenizer`` (the model's :class:`~speechproc.models.pretrained.whisper_asr.WhisperTokenizer`),
``input: wave``, optional ``label_smoothing``. Validation decodes greedily and reports ``WER``
and ``CER`` (on the text as it is in the data dir), which ``best_key: WER`` and an
``EpochCounterWithStopper`` use for checkpoint selection and early stopping.

Optional ``nonspeech_per_batch`` (default 0), ``nonspeech_seconds: [min, max]`` (default 0.5-5) and
``nonspeech_level_dbfs: [low, high]`` (default -90 to -40): that many clips without speech
(:func:`speechproc.data.audio.nonspeech_clip`: digital silence, white or brown noise, mains hum, at a random
level and length) join every training batch with an empty transcript, so that the fine-tuned model ends the
text at once on silence instead of inventing words.

Optional ``l2sp_weight`` (default 0) with ``l2sp_reference`` (default: the model's ``source``): the
:class:`~speechproc.models.pretrained.finetune.L2SP` penalty toward those pretrained weights is added to the
training loss (continual fine-tuning keeps the model near the original pretrained one, not only near the
version it started from).
"""
from __future__ import annotations

from typing import Dict

import speechbrain as sb
import torch

from speechproc.data.audio import NONSPEECH_KINDS, nonspeech_clip
from speechproc.models.pretrained.whisper_asr import SAMPLE_RATE
from speechproc.tasks.base import TaskBrain
from speechproc.utils import SpeechprocError

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
        if stage == sb.Stage.TRAIN and self.nonspeech is not None:
            wavs, lengths, tokens, tok_lengths = self.add_nonspeech(wavs, lengths, tokens, tok_lengths)
        logits, targets = model(wavs, lengths, tokens, tok_lengths)
        hyps = None
        if stage != sb.Stage.TRAIN:
            model = getattr(model, "module", model)
            hyps = model.transcribe(wavs, lengths)
        return logits, targets, hyps

    def on_fit_start(self) -> None:
        super().on_fit_start()
        self.nonspeech = None
        per_batch = int(getattr(self.hparams, "nonspeech_per_batch", 0) or 0)
        if per_batch > 0:
            import numpy as np

            model = getattr(self.modules.model, "module", self.modules.model)
            window = model.window_samples / SAMPLE_RATE
            lo, hi = (float(v) for v in getattr(self.hparams, "nonspeech_seconds", [0.5, 5.0]))
            hi = min(hi, window)  # never longer than the input window
            if not 0 < lo <= hi:
                raise SpeechprocError(f"nonspeech_seconds: need 0 < min <= max, and min within the {window:g}-s "
                                      f"input window (got [{lo}, {hi}])")
            levels = [float(v) for v in getattr(self.hparams, "nonspeech_level_dbfs", [-90.0, -40.0])]
            if len(levels) != 2 or levels[0] > levels[1] or levels[1] > 0:
                raise SpeechprocError(f"nonspeech_level_dbfs: need [low, high] with low <= high <= 0 (got {levels})")
            self.nonspeech = dict(per_batch=per_batch, lo=lo, hi=hi, levels=levels, kinds=list(NONSPEECH_KINDS),
                                  rng=np.random.default_rng(int(getattr(self.hparams, "seed", 0) or 0)))
        self.l2sp = None
        weight = float(getattr(self.hparams, "l2sp_weight", 0.0) or 0.0)
        if weight > 0:
            from speechproc.models.pretrained.finetune import L2SP

            model = getattr(self.modules.model, "module", self.modules.model)
            reference = getattr(self.hparams, "l2sp_reference", None) or model.tokenizer.path
            self.l2sp = L2SP(model.hf, model.pretrained_state(reference), weight)

    def add_nonspeech(self, wavs, lengths, tokens, tok_lengths):
        """The batch with ``per_batch`` clips without speech and empty transcripts appended."""
        ns = self.nonspeech
        rng = ns["rng"]
        clips = []
        for _ in range(ns["per_batch"]):
            kind = ns["kinds"][int(rng.integers(len(ns["kinds"])))]
            clips.append(torch.from_numpy(nonspeech_clip(rng.uniform(ns["lo"], ns["hi"]), SAMPLE_RATE, kind,
                                                         rng.uniform(*ns["levels"]), rng)))
        n = max(wavs.shape[1], max(len(c) for c in clips))
        wavs = torch.nn.functional.pad(wavs, (0, n - wavs.shape[1]))
        extra = torch.stack([torch.nn.functional.pad(c, (0, n - len(c))) for c in clips]).to(wavs)
        wavs = torch.cat([wavs, extra])
        lengths = torch.cat([lengths, torch.tensor([len(c) for c in clips], device=lengths.device)])
        tokens = torch.cat([tokens, tokens.new_zeros(len(clips), tokens.shape[1])])
        tok_lengths = torch.cat([tok_lengths, tok_lengths.new_zeros(len(clips))])
        return wavs, lengths, tokens, tok_lengths

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
