"""Joint CTC/attention ASR training (``task: asr``).

Expected hparams (HyperPyYAML): ``modules`` with ``model`` (:class:`~speechproc.models.asr.ConformerASR`,
or :class:`~speechproc.models.pretrained.ssl_ctc.SSLEncoderCTC` on waveforms with ``ctc_weight: 1.0``)
and optionally ``normalize`` (:class:`~speechproc.features.cmvn.GlobalCMVN`); ``ctc_weight``;
``label_smoothing``; optional ``spec_augment`` (a list of ``(B, T, D) -> (B, T, D)`` callables,
applied in training only); ``tokenizer`` (for the validation error rates).

Batches come from :func:`speechproc.data.dataset.make_asr_dataset`: ``feats`` ``(B, T, D)`` with
relative lengths, ``tokens`` ``(B, L)``, ``tokens_bos``/``tokens_eos`` ``(B, L + 1)``.
"""
from __future__ import annotations

from typing import Dict

import speechbrain as sb
import torch

from speechproc.models.asr.ctc import ctc_greedy_ids
from speechproc.tasks.base import TaskBrain

__all__ = ["ASRBrain"]


class ASRBrain(TaskBrain):
    """Conformer CTC/attention ASR. ``compute_forward`` returns ``(ctc_logprobs, dec_logprobs, enc_lengths)``."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        feats, rel = batch.feats
        lengths = self.lengths_from_relative(rel, feats.shape[1])
        if "normalize" in self.modules:  # fbank models; pretrained waveform encoders have none
            feats, _ = self.modules.normalize(feats, lengths)
        if stage == sb.Stage.TRAIN:
            for augment in getattr(self.hparams, "spec_augment", None) or []:
                feats = augment(feats)
        tokens_bos, bos_rel = batch.tokens_bos
        if stage == sb.Stage.VALID:  # the first num_plots utterances: attention maps at the end of the epoch
            keep = self.stage_metrics.setdefault("plot_inputs", [])
            bos_len = self.lengths_from_relative(bos_rel, tokens_bos.shape[1])
            for b in range(feats.shape[0]):
                if len(keep) >= int(getattr(self.hparams, "num_plots", 2)):
                    break
                keep.append((batch.id[b], feats[b, : int(lengths[b])].detach(), tokens_bos[b, : int(bos_len[b])]))
        return self.modules.model(feats, lengths, tokens_bos)

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Log and checkpoint (see :class:`TaskBrain`); after validation, the decoder's source attention of the
        first ``num_plots`` validation utterances as PNGs in ``plots/epochNNN/``."""
        keep = self.stage_metrics.get("plot_inputs", [])
        super().on_stage_end(stage, stage_loss, epoch)
        model = getattr(self.modules.model, "module", self.modules.model)
        if not keep or not getattr(model, "has_decoder", False):
            return
        out = self.validation_plot_dir(stage, epoch)
        if out is None:
            return
        from speechproc.plot import save_attention_png

        for utt, feats, tokens_bos in keep:
            enc, enc_len = model.encode(feats[None], torch.tensor([feats.shape[0]], device=feats.device))
            attn = model.decoder_attention(tokens_bos[None], enc, enc_len)[0]
            save_attention_png(attn.cpu(), out / f"{utt}_att.png", title=f"{utt}, epoch {epoch}",
                               xlabel="encoder frame (40 ms)", ylabel="output token")

    def compute_objectives(self, predictions, batch, stage):
        ctc_logp, dec_logp, enc_lengths = predictions
        tokens, tok_rel = batch.tokens
        tok_lengths = self.lengths_from_relative(tok_rel, tokens.shape[1])
        loss_ctc = torch.nn.functional.ctc_loss(
            ctc_logp.transpose(0, 1), tokens, enc_lengths, tok_lengths,
            blank=self.hparams.blank_index, reduction="sum", zero_infinity=True,
        ) / ctc_logp.shape[0]
        w = float(self.hparams.ctc_weight)
        loss = loss_ctc
        if dec_logp is not None and w < 1.0:
            tokens_eos, eos_rel = batch.tokens_eos
            loss_att = sb.nnet.losses.nll_loss(
                dec_logp, tokens_eos, length=eos_rel, label_smoothing=self.hparams.label_smoothing,
                reduction="batch",
            )
            # nll_loss(reduction="batch") is the per-utterance mean over tokens; scale to a sum
            # per utterance like the CTC loss (ESPnet's length-normalised-by-batch convention).
            eos_len = self.lengths_from_relative(eos_rel, tokens_eos.shape[1]).float()
            loss_att = (loss_att * eos_len).sum() / dec_logp.shape[0]
            loss = w * loss_ctc + (1.0 - w) * loss_att
            if stage != sb.Stage.TRAIN:
                pred = dec_logp.argmax(-1)
                mask = torch.arange(tokens_eos.shape[1], device=pred.device)[None] < eos_len[:, None]
                self.stage_metrics["correct"] += int(((pred == tokens_eos) & mask).sum())
                self.stage_metrics["total"] += int(mask.sum())
        if stage != sb.Stage.TRAIN:
            tokenizer = self.hparams.tokenizer
            hyps = ctc_greedy_ids(ctc_logp, enc_lengths, self.hparams.blank_index)
            hyp_words = [tokenizer.decode(h).split() for h in hyps]
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
        stats = {
            "ctc_WER": wer,
            "ctc_CER": cer,
        }
        if self.stage_metrics["total"]:
            stats["acc"] = self.stage_metrics["correct"] / self.stage_metrics["total"]
        return stats
