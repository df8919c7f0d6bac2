"""Recognition-synthesis VC decoder training (``task: recsynth``): content + log-F0 -> log-mel.

Expected hparams (HyperPyYAML):

- ``train_data``/``valid_data``: content dump dirs (``speechproc compute_content``), and
  ``train_mel``/``valid_mel``: the mel dump dirs (``speechproc compute_mel``) of the same data dirs;
  an utterance is used when both dumps have it, and its two frame counts may differ by at most
  :data:`MAX_FRAME_MISMATCH` frames (resampling rounding); both are cut to the shorter;
- ``modules``: ``model`` (:class:`~speechproc.models.vc.ContentDecoder`) and ``normalize``
  (:class:`~speechproc.features.cmvn.GlobalCMVN` of the mel, from the pre-training corpus's
  ``cmvn.npz``; an adapted model keeps the statistics it was pre-trained with);
- optional ``init_model``: the ``model.pt`` of a pre-trained decoder (speaker adaptation); a checkpoint
  of this run, when there is one, takes precedence; optional ``max_train_utts`` (the first N utterances,
  for data curves), ``repeat_to_utts`` (repeat a small training set up to this many items per epoch),
  ``max_frames``, ``segment_frames`` (random training excerpts of this many frames;
  null: whole utterances), ``l2_weight`` (MSE term beside the L1), ``num_plots``.

Batches: ``feats`` ``(B, T, C + 2)``, ``mel`` ``(B, T, n_mels)``, relative lengths.
"""
from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechproc.tasks.base import TaskBrain
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["RecSynthBrain", "make_recsynth_dataset", "recsynth_datasets", "check_recsynth_inputs", "target_f0_stats",
           "MAX_FRAME_MISMATCH"]

logger = logging.getLogger(__name__)

#: Largest frame-count difference between the content and mel dumps of one utterance.
MAX_FRAME_MISMATCH = 3


def make_recsynth_dataset(content_dump: PathLike, mel_dump: PathLike, max_utts: Optional[int] = None,
                          max_frames: Optional[int] = None, segment_frames: Optional[int] = None,
                          seed: int = 0, repeat_to: Optional[int] = None) -> DynamicItemDataset:
    """Items ``id feats mel duration`` of a content dump and the mel dump of the same data dir.

    Args:
        content_dump, mel_dump: dump dirs (``compute_content``, ``compute_mel``) on the same frame grid.
        max_utts: keep the first N shared utterances (C-sorted ids).
        max_frames: drop longer utterances.
        segment_frames: random excerpts of this many frames (shorter utterances whole).
        repeat_to: list the utterances again (ids ``<utt>#2``, ...) until an epoch has at least this many items,
            so that adaptation on 5 clips gets as many updates per epoch as on 64 (a data curve at equal budget).
    """
    from speechproc.data import DataDir
    from speechproc.features.content import load_content_config
    from speechproc.features.fbank import FeatureStore
    from speechproc.features.mel import load_mel_config

    content_dump, mel_dump = Path(content_dump), Path(mel_dump)
    ccfg, mcfg = load_content_config(content_dump), load_mel_config(mel_dump)
    if (ccfg.mel_sample_rate, ccfg.mel_hop_length) != (mcfg.sample_rate, mcfg.hop_length):
        raise SpeechprocError(
            f"{content_dump}/content.json: frame grid {ccfg.mel_sample_rate} Hz / hop {ccfg.mel_hop_length} differs "
            f"from {mel_dump}/mel.json ({mcfg.sample_rate} Hz / hop {mcfg.hop_length}); run compute_content with "
            f"--mel-config set to the mel dump's settings")
    c_utts, m_utts = DataDir.load(content_dump).utts, set(DataDir.load(mel_dump).utts)
    utts = [u for u in c_utts if u in m_utts]
    if not utts:
        raise SpeechprocError(f"{content_dump} and {mel_dump}: no utterance in both dumps; dump the same data dir")
    missing = len(c_utts) - len(utts)
    if missing:
        logger.warning("%s: %d utterance(s) have no mel in %s and are not used", content_dump, missing, mel_dump)
    utts = utts[: max_utts or None]
    c_store, m_store = FeatureStore(content_dump), FeatureStore(mel_dump)
    entries = {}
    for u in utts:
        n_c, n_m = c_store.num_frames(u), m_store.num_frames(u)
        if abs(n_c - n_m) > MAX_FRAME_MISMATCH:
            raise SpeechprocError(f"{content_dump}: utterance {u} has {n_c} content frames but {n_m} mel frames in "
                                  f"{mel_dump}; the dumps come from different audio: dump both again")
        n = min(n_c, n_m)
        if max_frames is not None and n > max_frames:
            continue
        entries[u] = {"duration": n * mcfg.frame_shift_s, "n": n, "utt": u}
    if not entries:
        raise SpeechprocError(f"{content_dump}: no utterance left (max_frames={max_frames})")
    if repeat_to and len(entries) < repeat_to:
        base = list(entries.items())
        for k in range(len(entries), int(repeat_to)):
            utt, entry = base[k % len(base)]
            entries[f"{utt}#{k // len(base) + 1}"] = entry
    rng = random.Random(seed)

    def load(uid: str, n: int):
        feats, mel = c_store[uid][:n], m_store[uid][:n]
        if segment_frames and n > segment_frames:
            start = rng.randrange(n - segment_frames + 1)
            feats, mel = feats[start:start + segment_frames], mel[start:start + segment_frames]
        yield torch.from_numpy(feats.copy())
        yield torch.from_numpy(mel.copy())

    ds = DynamicItemDataset(entries)
    ds.add_dynamic_item(load, takes=["utt", "n"], provides=["feats", "mel"])
    ds.set_output_keys(["id", "feats", "mel", "duration"])
    return ds


def recsynth_datasets(hparams: dict) -> Tuple[DynamicItemDataset, DynamicItemDataset]:
    """(train, valid) datasets of the trainer (keys in the module docstring)."""
    for key in ("train_data", "train_mel", "valid_data", "valid_mel"):
        if not hparams.get(key):
            raise SpeechprocError(f"task recsynth: hparams key '{key}' is not set; give the content and mel dump dirs")
    train = make_recsynth_dataset(hparams["train_data"], hparams["train_mel"], hparams.get("max_train_utts"),
                                  hparams.get("max_frames"), hparams.get("segment_frames"),
                                  int(hparams.get("seed", 0)), hparams.get("repeat_to_utts"))
    valid = make_recsynth_dataset(hparams["valid_data"], hparams["valid_mel"], hparams.get("max_valid_utts"))
    return train, valid


def target_f0_stats(content_dump: PathLike, max_utts: Optional[int] = None) -> Tuple[float, float]:
    """(mean, std) of the voiced log-F0 over the first ``max_utts`` utterances (None: all) of a content dump."""
    from speechproc.data import DataDir
    from speechproc.features.fbank import FeatureStore
    from speechproc.vc.recsynth import log_f0_stats

    store = FeatureStore(content_dump)
    frames = [store[u][:, -2:] for u in DataDir.load(content_dump).utts[: max_utts or None]]
    return log_f0_stats(np.concatenate(frames))


def _exp_of(model_pt: PathLike) -> Optional[dict]:
    """The plain settings (:func:`speechproc.exp.exp_settings`) of the exp dir holding ``model_pt`` (None when
    there is none)."""
    from speechproc.exp import exp_settings

    if not (Path(model_pt).parent / "train.yaml").is_file():
        return None
    return exp_settings(Path(model_pt).parent)


def check_recsynth_inputs(content_dump: PathLike, mel_dump: PathLike, init_model: Optional[PathLike] = None,
                          vocoder_checkpoint: Optional[PathLike] = None) -> None:
    """Refuse, with the key and the fix, a pre-trained decoder (``init_model``) whose content features were made
    with another Whisper model, layer or frame grid than ``content_dump``, and a vocoder exp trained on other
    mel settings than ``mel_dump``."""
    from speechproc.features.content import load_content_config
    from speechproc.features.mel import load_mel_config

    ours = load_content_config(content_dump)
    if init_model:
        hp = _exp_of(init_model)
        if hp and hp.get("train_data"):
            theirs = load_content_config(hp["train_data"])
            if theirs != ours:
                raise SpeechprocError(
                    f"init_model {init_model}: pre-trained on content features {theirs.to_dict()} but train_data "
                    f"{content_dump} has {ours.to_dict()}; dump the target with the pre-training's settings "
                    f"(compute_content --whisper {theirs.whisper} --layer {theirs.layer})")
    if vocoder_checkpoint:
        voc = Path(vocoder_checkpoint)
        hp = _exp_of(voc / "model.pt") if voc.is_dir() else None
        if hp is None:
            raise SpeechprocError(f"vocoder_checkpoint {voc}: no trained vocoder exp there (train.yaml + model.pt); "
                                  f"train it first (egs/ljspeech_teacher/tts stage 17) or set vocoder_checkpoint: null")
        voc_mel, mel = load_mel_config(hp["train_data"]), load_mel_config(mel_dump)
        if voc_mel != mel:
            raise SpeechprocError(
                f"vocoder_checkpoint {voc}: trained on mel settings {voc_mel.to_dict()} but train_mel {mel_dump} has "
                f"{mel.to_dict()}; dump the mels with the vocoder's mel config (compute_mel --mel-config)")


class RecSynthBrain(TaskBrain):
    """:class:`~speechproc.models.vc.ContentDecoder` with an L1 (+ ``l2_weight`` x MSE) loss on the normalised mel."""

    def on_fit_start(self) -> None:
        """Check the pre-trained decoder and the vocoder against this run's features, then start from
        ``init_model`` (when set) and let the trainer resume its own checkpoints."""
        check_recsynth_inputs(self.hparams.train_data, self.hparams.train_mel,
                              getattr(self.hparams, "init_model", None),
                              getattr(self.hparams, "vocoder_checkpoint", None))
        self.write_target_f0()
        self.load_init_model()
        super().on_fit_start()

    def write_target_f0(self) -> None:
        """``target_f0.json`` in the exp dir: mean/std of the voiced log-F0 of the training clips (what conversion
        maps the source's F0 to); training data without a voiced frame is refused here, before any update."""
        import json

        from speechproc.utils import atomic_write_text

        n = getattr(self.hparams, "max_train_utts", None)
        try:
            mean, std = target_f0_stats(self.hparams.train_data, int(n) if n else None)
        except SpeechprocError as e:
            raise SpeechprocError(f"train_data {self.hparams.train_data}: no usable clip ({e}); give the target "
                                  f"speaker's speech recordings") from None
        if sb.utils.distributed.if_main_process():
            atomic_write_text(Path(self.hparams.output_folder) / "target_f0.json",
                              json.dumps({"log_f0_mean": mean, "log_f0_std": std,
                                          "f0_geometric_mean_hz": round(float(np.exp(mean)), 1)}, indent=1) + "\n")

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        feats, rel = batch.feats
        lengths = self.lengths_from_relative(rel, feats.shape[1])
        mel, mel_rel = batch.mel
        target, _ = self.modules.normalize(mel, lengths)
        return {"mel": self.modules.model(feats, lengths), "target": target, "lengths": lengths}

    def compute_objectives(self, predictions, batch, stage):
        pred, target, lengths = predictions["mel"], predictions["target"], predictions["lengths"]
        mask = (torch.arange(pred.shape[1], device=pred.device)[None] < lengths[:, None]).unsqueeze(-1)
        n = mask.sum().clamp(min=1) * pred.shape[-1]
        l1 = ((pred - target).abs() * mask).sum() / n
        l2 = (((pred - target) ** 2) * mask).sum() / n
        loss = l1 + float(getattr(self.hparams, "l2_weight", 0.0)) * l2
        self.add_batch_losses({"l1": l1.detach(), "mse": l2.detach()})
        if stage == sb.Stage.VALID and len(self.stage_metrics.setdefault("plots", [])) < int(
                getattr(self.hparams, "num_plots", 2)):
            n0 = int(lengths[0])
            self.stage_metrics["plots"].append((batch.id[0], pred[0, :n0].detach().cpu(), target[0, :n0].cpu()))
        return loss

    def on_stage_end(self, stage, stage_loss, epoch=None) -> None:
        """Log and checkpoint (see :class:`TaskBrain`); after validation, mel PNGs (target over prediction)."""
        plots = self.stage_metrics.get("plots", [])
        super().on_stage_end(stage, stage_loss, epoch)
        out = self.validation_plot_dir(stage, epoch) if plots else None
        if out is not None:
            from speechproc.plot import save_mel_png

            for utt, mel, target in plots:
                save_mel_png(mel, out / f"{utt}_mel.png", title=f"{utt}, epoch {epoch}", target=target)
