"""Tacotron 2 training (``task: tts``).

Expected hparams (HyperPyYAML): ``modules`` with ``model`` (:class:`~speechproc.models.tts.Tacotron2`)
and ``normalize`` (:class:`~speechproc.features.cmvn.GlobalCMVN` from the mel dump's
``cmvn.npz``); ``loss`` (:class:`~speechproc.models.tts.Tacotron2Loss`); ``tokenizer``;
``train_data``/``valid_data`` mel dump dirs (``speechproc compute_mel``); optional
``train_durations``/``valid_durations``: ``durations`` files of
``speechproc extract_durations`` (frames per token, for :class:`~speechproc.models.tts.FastSpeech2`,
given to the model as ``durations``); optional ``num_plots`` (attention/mel PNGs of the first
validation utterances written every epoch to ``<output_folder>/plots/epochNNN/``); optional
``init_model``: a ``model.pt`` of an earlier run
whose module weights start the training (fine-tuning, e.g. speaker adaptation); a checkpoint of
this run, when there is one, takes precedence; optional ``strategy``: which parts of the model
train (:func:`speechproc.models.pretrained.finetune.apply_strategy`: ``freeze_encoder`` freezes the
model's ``encoder_modules``, the text side; ``freeze``/``unfreeze`` name modules).

Batches come from :func:`make_tts_dataset`: ``tokens`` ``(B, L)`` (text tokens + ``<sos/eos>``),
``mel`` ``(B, T, n_mels)``, with SpeechBrain's relative lengths.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechproc.tasks.base import TaskBrain
from speechproc.text.tokenizer import encode_text
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["TTSBrain", "make_tts_dataset", "tts_datasets", "read_durations"]

logger = logging.getLogger(__name__)



def read_durations(path: PathLike) -> Dict[str, List[int]]:
    """``utt d1 d2 ...`` lines (frames per token) of a ``durations`` file."""
    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: durations file not found; run 'speechproc extract_durations' first")
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            out[parts[0]] = [int(x) for x in parts[1:]]
        except ValueError:
            raise SpeechprocError(f"{path}:{n}: expected 'utt int int ...', got {line[:80]!r}") from None
        if not out[parts[0]] or min(out[parts[0]]) < 0:
            raise SpeechprocError(f"{path}:{n}: utterance {parts[0]} needs one non-negative duration per token")
    return out


def make_tts_dataset(path: PathLike, tokenizer, max_utts: Optional[int] = None,
                     max_frames: Optional[int] = None, durations: Optional[PathLike] = None,
                     pitch_stats: Optional[PathLike] = None) -> DynamicItemDataset:
    """Dataset of a mel dump dir: items ``id tokens mel duration`` (+ ``durations`` when given, + ``pitch`` with
    ``pitch_stats``).

    Args:
        path: dump dir written by ``speechproc compute_mel`` (``feats.scp``, ``utt2num_frames``,
            ``mel.json``, ``text``).
        tokenizer: a :class:`speechproc.text.tokenizer.Tokenizer`.
        max_utts: keep the first ``max_utts`` utterances (C-sorted ids).
        max_frames: drop utterances longer than this many frames.
        durations: a ``durations`` file (``speechproc extract_durations``) covering every utterance,
            one value per token (``<sos/eos>`` included) summing to the utterance's frames.
        pitch_stats: the training dump's ``pitch_stats.json``: items get ``pitch``, the dump's frame-level F0
            (``compute_mel --pitch``) as normalised log-F0 (:func:`speechproc.features.pitch.normalize_pitch`).
    """
    from speechproc.data.dataset import load_data_dir
    from speechproc.features.fbank import FeatureStore
    from speechproc.features.mel import load_mel_config

    path = Path(path)
    data = load_data_dir(path)
    if data.text is None:
        raise SpeechprocError(f"{path}: no text file; a TTS dump dir needs the transcripts")
    tokenizer.report_unknown(data.text, str(path))
    store = FeatureStore(path)
    config = load_mel_config(path)
    utts = data.utts if max_utts is None else data.utts[:max_utts]
    entries = {}
    for u in utts:
        n = store.num_frames(u)
        if max_frames is not None and n > max_frames:
            continue
        entries[u] = {"duration": n * config.frame_shift_s, "text": data.text[u]}
    if not entries:
        raise SpeechprocError(f"{path}: no utterance left (max_frames={max_frames}); check the filter settings")
    if len(entries) < len(utts):
        logger.info("%s: kept %d of %d utterances (<= %s frames)", path, len(entries), len(utts), max_frames)
    keys = ["id", "tokens", "mel", "duration", "text"]
    if durations is not None:
        durs = read_durations(durations)
        for u in entries:
            if u not in durs:
                raise SpeechprocError(f"{durations}: no durations for utterance {u} of {path}; "
                                      f"re-run extract_durations on this dump dir")
            n_tok, n = len(tokenizer.encode(data.text[u])) + 1, store.num_frames(u)
            if len(durs[u]) != n_tok or sum(durs[u]) != n:
                raise SpeechprocError(
                    f"{durations}: utterance {u} has {len(durs[u])} durations summing to {sum(durs[u])}, but "
                    f"{n_tok} tokens and {n} frames in {path}; the durations were made for another token list "
                    f"or dump: re-run extract_durations")
            entries[u]["durations"] = torch.LongTensor(durs[u])
        keys.append("durations")
    if pitch_stats is not None:
        from speechproc.features.pitch import load_pitch_stats, normalize_pitch, read_pitch_scp

        mean, std = load_pitch_stats(pitch_stats)
        scp = read_pitch_scp(path)
        for u in entries:
            if u not in scp:
                raise SpeechprocError(f"{path}/pitch.scp: no pitch for utterance {u}; re-run compute_pitch on {path}")
            entries[u]["pitch_path"] = scp[u]
        keys.append("pitch")
    ds = DynamicItemDataset(entries)
    if pitch_stats is not None:
        ds.add_dynamic_item(lambda p: torch.from_numpy(normalize_pitch(np.load(p), mean, std)), takes=["pitch_path"],
                            provides="pitch")
    ds.add_dynamic_item(lambda text: encode_text(tokenizer, text), takes=["text"], provides="tokens")
    ds.add_dynamic_item(lambda uid: torch.from_numpy(store[uid].copy()), takes=["id"], provides="mel")
    ds.set_output_keys(keys)
    return ds


def tts_datasets(hparams: dict) -> Tuple[DynamicItemDataset, DynamicItemDataset]:
    """(train, valid) datasets of the trainer (keys ``train_data``, ``valid_data``, ``tokenizer``,
    ``max_train_utts``, ``max_valid_utts``, ``max_frames``, ``train_durations``, ``valid_durations``,
    ``pitch_stats``)."""
    tok = hparams["tokenizer"]
    pitch = hparams.get("pitch_stats")
    train = make_tts_dataset(hparams["train_data"], tok, hparams.get("max_train_utts"), hparams.get("max_frames"),
                             durations=hparams.get("train_durations"), pitch_stats=pitch)
    valid = make_tts_dataset(hparams["valid_data"], tok, hparams.get("max_valid_utts"),
                             durations=hparams.get("valid_durations"), pitch_stats=pitch)
    return train, valid


class TTSBrain(TaskBrain):
    """Tacotron 2 with guided attention, or FastSpeech 2 on given durations; ``compute_forward``
    returns the model's output dict, the loss module's dict entries besides ``loss`` are the logged metrics."""

    def on_fit_start(self) -> None:
        """Start from ``init_model`` (when set), then let the trainer resume its own checkpoints."""
        self.load_init_model()
        strategy = getattr(self.hparams, "strategy", None)
        if strategy:
            from speechproc.models.pretrained.finetune import apply_strategy

            model = self.modules.model  # lora / adapters wrap layers: model.pt keeps them, the loader re-wraps
            apply_strategy(model, strategy, encoder_modules=getattr(model, "encoder_modules", ()))
        super().on_fit_start()

    def model_inputs(self, batch):
        """``(inputs, lengths)`` the model reads: token ids here (source mels in :class:`~speechproc.tasks.vc.VCBrain`)."""
        tokens, tok_rel = batch.tokens
        return tokens, self.lengths_from_relative(tok_rel, tokens.shape[1])

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        inputs, in_len = self.model_inputs(batch)
        mel, mel_rel = batch.mel
        mel_len = self.lengths_from_relative(mel_rel, mel.shape[1])
        mel, _ = self.modules.normalize(mel, mel_len)
        extra = {"durations": batch.durations[0]} if hasattr(batch, "durations") else {}
        if hasattr(batch, "pitch"):
            extra["pitch"] = batch.pitch[0]
        out = self.modules.model(inputs, in_len, mel, mel_len, **extra)
        # the attention axis: the input lengths, or what the model made of them (stacked source frames)
        out.update(target=mel, mel_len=mel_len, tok_len=out.get("src_lengths", in_len))
        return out

    def compute_objectives(self, predictions, batch, stage):
        model = self.modules.model
        r = getattr(model, "module", model).r
        losses = self.hparams.loss(predictions, predictions["target"], predictions["mel_len"],
                                   predictions["tok_len"], r)
        self.add_batch_losses({k: v for k, v in losses.items() if k != "loss"})
        if stage == sb.Stage.VALID and len(self.stage_metrics.setdefault("plots", [])) < int(
                getattr(self.hparams, "num_plots", 2)):
            for b in range(predictions["alignments"].shape[0]):
                if len(self.stage_metrics["plots"]) >= int(getattr(self.hparams, "num_plots", 2)):
                    break
                steps = int((predictions["mel_len"][b] + r - 1) // r)
                n_tok = int(predictions["tok_len"][b])
                n_mel = int(predictions["mel_len"][b])
                self.stage_metrics["plots"].append((
                    batch.id[b], predictions["alignments"][b, :steps, :n_tok].detach().cpu(),
                    predictions["mel_after"][b, :n_mel].detach().cpu(), predictions["target"][b, :n_mel].cpu()))
        return losses["loss"]

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Log and checkpoint (see :class:`TaskBrain`); after validation, write attention/mel PNGs."""
        plots = self.stage_metrics.get("plots", [])
        super().on_stage_end(stage, stage_loss, epoch)
        out = self.validation_plot_dir(stage, epoch) if plots else None
        if out is not None:
            from speechproc.plot import save_attention_png, save_mel_png

            for utt, align, mel, target in plots:
                save_attention_png(align, out / f"{utt}_att.png", title=f"{utt}, epoch {epoch}")
                save_mel_png(mel, out / f"{utt}_mel.png", title=f"{utt}, epoch {epoch}", target=target)
