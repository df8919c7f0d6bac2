"""Sequence-to-sequence voice conversion training (``task: vc``): source mel -> target mel.

Expected hparams (HyperPyYAML), as ``task: tts`` (:mod:`speechproc.tasks.tts`) except the inputs:

- ``src_train_data``/``tgt_train_data``, ``src_valid_data``/``tgt_valid_data``: mel dump dirs
  (``speechproc compute_mel``) of two parallel data dirs, paired by utterance id after the speaker
  prefix (:func:`speechproc.vc.convert.parallel_pairs`, e.g. ``SF1_100001`` with ``TF1_100001``);
- ``modules``: ``model`` (:class:`~speechproc.models.vc.Seq2SeqVC`), ``normalize`` (target
  :class:`~speechproc.features.cmvn.GlobalCMVN`) and ``normalize_src`` (source);
- ``loss``: :class:`~speechproc.models.tts.Tacotron2Loss` (guided attention over the stacked source);
- optional ``init_tts``: a trained Tacotron2 exp's ``model.pt`` whose encoder, attention, decoder and
  postnet tensors initialise the model (:func:`speechproc.models.vc.seq2seq.init_from`; the list of
  copied and skipped tensors goes to ``<output_folder>/init_from.json``). A checkpoint of this run,
  when there is one, takes precedence; ``init_model`` (a whole earlier VC model) also works.

Batches: ``src`` ``(B, T_src, n_src_mels)``, ``mel`` ``(B, T, n_mels)`` (target), relative lengths.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional, Tuple

import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechproc.tasks.tts import TTSBrain
from speechproc.utils import PathLike, SpeechprocError, atomic_write_text

__all__ = ["VCBrain", "make_vc_dataset", "vc_datasets"]

logger = logging.getLogger(__name__)


def make_vc_dataset(src_dump: PathLike, tgt_dump: PathLike, max_utts: Optional[int] = None,
                    max_frames: Optional[int] = None) -> DynamicItemDataset:
    """Dataset of two parallel mel dump dirs: items ``id src mel duration`` (``id`` = the target's id).

    Args:
        src_dump, tgt_dump: dump dirs of the source and the target speaker (same ids after the prefix).
        max_utts: keep the first N pairs (sorted ids).
        max_frames: drop pairs whose source or target is longer than this many frames.
    """
    from speechproc.data import DataDir
    from speechproc.features.fbank import FeatureStore
    from speechproc.features.mel import load_mel_config
    from speechproc.vc.convert import parallel_pairs

    src_dump, tgt_dump = Path(src_dump), Path(tgt_dump)
    cfg_s, cfg_t = load_mel_config(src_dump), load_mel_config(tgt_dump)
    if cfg_s.frame_shift_s != cfg_t.frame_shift_s:
        raise SpeechprocError(f"{src_dump} and {tgt_dump}: different mel frame shifts ({cfg_s.frame_shift_s} vs "
                              f"{cfg_t.frame_shift_s} s); dump both with the same --mel-config")
    pairs = parallel_pairs(DataDir.load(src_dump), DataDir.load(tgt_dump), strict=False)[: max_utts or None]
    s_store, t_store = FeatureStore(src_dump), FeatureStore(tgt_dump)
    entries = {}
    for s, t in pairs:
        n_s, n_t = s_store.num_frames(s), t_store.num_frames(t)
        if max_frames is not None and max(n_s, n_t) > max_frames:
            continue
        entries[t] = {"src_id": s, "duration": n_t * cfg_t.frame_shift_s}
    if not entries:
        raise SpeechprocError(f"{src_dump} / {tgt_dump}: no parallel pair left (max_frames={max_frames})")
    if len(entries) < len(pairs):
        logger.info("%s: kept %d of %d pairs (<= %s frames)", tgt_dump, len(entries), len(pairs), max_frames)
    ds = DynamicItemDataset(entries)
    ds.add_dynamic_item(lambda u: torch.from_numpy(s_store[u].copy()), takes=["src_id"], provides="src")
    ds.add_dynamic_item(lambda u: torch.from_numpy(t_store[u].copy()), takes=["id"], provides="mel")
    ds.set_output_keys(["id", "src", "mel", "duration"])
    return ds


def vc_datasets(hparams: dict) -> Tuple[DynamicItemDataset, DynamicItemDataset]:
    """(train, valid) datasets of the trainer (keys ``src_train_data``, ``tgt_train_data``, ``src_valid_data``,
    ``tgt_valid_data``, ``max_train_utts``, ``max_valid_utts``, ``max_frames``)."""
    for key in ("src_train_data", "tgt_train_data", "src_valid_data", "tgt_valid_data"):
        if not hparams.get(key):
            raise SpeechprocError(f"task vc: hparams key '{key}' is not set; give the mel dump dirs of both speakers")
    train = make_vc_dataset(hparams["src_train_data"], hparams["tgt_train_data"], hparams.get("max_train_utts"),
                            hparams.get("max_frames"))
    valid = make_vc_dataset(hparams["src_valid_data"], hparams["tgt_valid_data"], hparams.get("max_valid_utts"))
    return train, valid


class VCBrain(TTSBrain):
    """Seq2SeqVC with guided attention; the losses, plots and bookkeeping are :class:`TTSBrain`'s."""

    def on_fit_start(self) -> None:
        """Initialise from ``init_tts`` (when set), then ``init_model`` and this run's checkpoints."""
        init = getattr(self.hparams, "init_tts", None)
        if init:
            from speechproc.models.vc.seq2seq import init_from

            path = Path(init)
            if not path.is_file():
                raise SpeechprocError(f"init_tts {path}: not found; train the TTS model first "
                                      f"(egs/ljspeech/tts) or set init_tts: null to train from scratch")
            model = self.modules.model
            copied, skipped = init_from(getattr(model, "module", model), path)
            logger.info("initialised %d tensors of the VC model from %s (%d skipped)", len(copied), path, len(skipped))
            atomic_write_text(Path(self.hparams.output_folder) / "init_from.json",
                              json.dumps({"init_tts": str(path), "copied": copied, "skipped": skipped}, indent=1) + "\n")
        super().on_fit_start()

    def model_inputs(self, batch):
        """Normalised source mels ``(B, T_src, n_src_mels)`` and their frame counts."""
        src, src_rel = batch.src
        src_len = self.lengths_from_relative(src_rel, src.shape[1])
        src, _ = self.modules.normalize_src(src, src_len)
        return src, src_len
