"""Speaker classification training for speaker embeddings (``task: spk``).

A speaker-embedding network (SpeechBrain's ECAPA-TDNN lobe) is trained as a speaker classifier with
an additive angular margin softmax (AAM-softmax) over the training speakers; its pooled output
(``lin_neurons`` dimensions) is the speaker embedding that :mod:`speechproc.score.speaker` uses
for speaker verification and speaker similarity.

Expected hparams (HyperPyYAML): ``modules`` with ``embedding_model`` (``(B, T, D)`` features +
relative lengths -> ``(B, 1, E)``), ``classifier`` (``(B, 1, E)`` -> ``(B, 1, n_speakers)`` cosines)
and optionally ``normalize`` (:class:`~speechproc.features.cmvn.GlobalCMVN`); ``compute_cost``
(e.g. ``LogSoftmaxWrapper(AdditiveAngularMargin(margin=0.2, scale=30))``); ``n_speakers`` (must equal
the number of speakers of ``train_data``); ``utterance_mean_norm`` (subtract each utterance's mean
after the global CMVN); ``crop_seconds`` (random crop of every training utterance per epoch);
``valid_crop_seconds`` (None: whole validation utterances); optional ``spec_augment``.

Data (:func:`spk_datasets`): ``train_data`` / ``valid_data`` are data dirs or fbank dump dirs (see
:func:`speechproc.data.dataset.make_asr_dataset`); the speaker of each utterance comes from
``utt2spk``. The label encoder (:class:`SpeakerLabels`) is built from ``train_data`` and saved as
``<output_folder>/speakers.txt`` together with the feature settings ``<output_folder>/fbank.json``
and a copy of the CMVN stats ``<output_folder>/cmvn.npz``, which inference reads. The validation
set must hold other utterances of the *training* speakers (:func:`speaker_holdout`, verb
``holdout_per_speaker``): its metric ``acc`` is closed-set speaker identification accuracy (argmax
of the classifier's cosines, no margin).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import speechbrain as sb
import torch
from speechbrain.dataio.dataset import DynamicItemDataset

from speechproc.tasks.base import TaskBrain
from speechproc.utils import PathLike, SpeechprocError, atomic_write_bytes, atomic_write_text

__all__ = ["SpeakerLabels", "SpeakerBrain", "spk_datasets", "speaker_holdout", "normalize_features",
           "LABELS_FILE", "FBANK_FILE", "CMVN_FILE"]

logger = logging.getLogger(__name__)

#: Label encoder file in the experiment dir (``speaker index`` per line).
LABELS_FILE = "speakers.txt"
#: Feature settings of the training data, copied into the experiment dir for inference.
FBANK_FILE = "fbank.json"
#: Copy of the training CMVN stats (``cmvn_stats``), so that inference does not need the dump dir.
CMVN_FILE = "cmvn.npz"


class SpeakerLabels:
    """Speaker id <-> class index (indices follow the C-sorted speaker ids).

    Args:
        speakers: the speaker ids (duplicates are merged; order does not matter).
        source: where they came from (for messages).
    """

    def __init__(self, speakers: Sequence[str], source: str = "") -> None:
        self.speakers: List[str] = sorted(set(speakers))
        if not self.speakers:
            raise SpeechprocError(f"{source or 'speaker list'}: no speakers; fix: train on a data dir with utt2spk")
        self.index: Dict[str, int] = {s: i for i, s in enumerate(self.speakers)}
        self.source = source

    @classmethod
    def from_data_dir(cls, path: PathLike) -> "SpeakerLabels":
        """The speakers of data (or dump) dir ``path`` (its ``utt2spk``)."""
        path = Path(path)
        if not (path / "utt2spk").is_file():
            raise SpeechprocError(f"{path}/utt2spk: missing; speaker training needs the speaker of every utterance; "
                                  f"fix: use a data dir written by data preparation (wav.scp, utt2spk)")
        from speechproc.data.dataset import load_data_dir

        return cls(load_data_dir(path).speakers, source=str(path / "utt2spk"))

    def __len__(self) -> int:
        return len(self.speakers)

    def __contains__(self, spk: str) -> bool:
        return spk in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpeakerLabels) and other.speakers == self.speakers

    def encode(self, spk: str, where: str = "") -> int:
        """Class index of speaker ``spk``; an unknown speaker is an error naming ``where`` it came from."""
        try:
            return self.index[spk]
        except KeyError:
            raise SpeechprocError(
                f"{where or 'speaker'}: speaker '{spk}' was not seen in training ({len(self)} speakers from "
                f"{self.source or 'the label encoder'}); fix: validate on held-out utterances of the training "
                f"speakers (verb holdout_per_speaker), not on new speakers") from None

    def decode(self, index: int) -> str:
        """Speaker id of class ``index``."""
        if not 0 <= int(index) < len(self):
            raise SpeechprocError(f"speaker class index {index} out of range [0, {len(self)})")
        return self.speakers[int(index)]

    def save(self, path: PathLike) -> None:
        """Write ``speaker index`` lines atomically."""
        atomic_write_text(path, "".join(f"{s} {i}\n" for i, s in enumerate(self.speakers)))

    @classmethod
    def load(cls, path: PathLike) -> "SpeakerLabels":
        """Read a file written by :meth:`save` (indices are checked)."""
        path = Path(path)
        if not path.is_file():
            raise SpeechprocError(f"{path}: speaker label file not found; it is written by speaker training (task spk)")
        speakers = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] != str(len(speakers)):
                raise SpeechprocError(f"{path} line {n}: expected '<speaker> {len(speakers)}', got '{line}'; "
                                      f"fix: restore the file written by training")
            speakers.append(fields[0])
        labels = cls(speakers, source=str(path))
        if labels.speakers != speakers:
            raise SpeechprocError(f"{path}: speakers are not unique and C-sorted; fix: restore the file written by training")
        return labels


def speaker_holdout(data, num_per_speaker: int = 2, min_left: int = 2, seed: int = 0):
    """Split a data dir into (train, held-out) with ``num_per_speaker`` utterances of each speaker held out.

    The held-out utterances of a speaker are drawn at random (``seed``, deterministic); a speaker
    with fewer than ``num_per_speaker + min_left`` utterances stays whole in train.

    Args:
        data: a :class:`~speechproc.data.datadir.DataDir`.
        num_per_speaker: utterances per speaker held out.
        min_left: utterances each speaker keeps at least in train.
        seed: random seed.

    Returns:
        ``(train, held_out)`` DataDirs (new objects).
    """
    if num_per_speaker < 1:
        raise SpeechprocError(f"holdout: num_per_speaker must be >= 1, got {num_per_speaker}")
    rng = np.random.default_rng(seed)
    held: List[str] = []
    kept_whole = []
    for spk, utts in data.spk2utt.items():
        if len(utts) < num_per_speaker + min_left:
            kept_whole.append(spk)
            continue
        held += [utts[i] for i in sorted(rng.choice(len(utts), size=num_per_speaker, replace=False))]
    if kept_whole:
        logger.warning("%d speaker(s) have fewer than %d utterances and have none held out: %s", len(kept_whole),
                       num_per_speaker + min_left, " ".join(kept_whole[:10]))
    if not held:
        raise SpeechprocError(f"{data.source or 'data dir'}: no speaker has {num_per_speaker + min_left} utterances; "
                              f"fix: lower --num-per-speaker/--min-left")
    return data.exclude(held), data.subset(held)


def _crop_item(seconds: Optional[float], frame_shift_ms: float, random: bool):
    """A dynamic item ``feats (T, D) -> chunk (T', D)``: a crop of at most ``seconds`` (random or centred)."""
    frames = None if seconds is None else max(1, int(round(float(seconds) * 1000.0 / frame_shift_ms)))

    def crop(feats: torch.Tensor) -> torch.Tensor:
        if frames is None or feats.shape[0] <= frames:
            return feats
        extra = feats.shape[0] - frames
        start = int(torch.randint(0, extra + 1, (1,))) if random else extra // 2
        return feats[start: start + frames]

    return crop


def _speaker_dataset(path: PathLike, labels: SpeakerLabels, crop_seconds: Optional[float], random_crop: bool,
                     sort: Optional[str], max_utts: Optional[int], min_duration: float) -> DynamicItemDataset:
    from speechproc.data.dataset import load_data_dir, make_asr_dataset

    path = Path(path)
    data = load_data_dir(path)
    utt2spk = data.utt2spk
    for u in data.utts:  # fail before training starts, naming the first unknown speaker
        labels.encode(utt2spk[u], where=f"{path}/utt2spk (utterance {u})")
    ds = make_asr_dataset(path, None, min_duration=min_duration, sort=sort, max_utts=max_utts)
    from speechproc.features.fbank import FeatureStore

    shift = 10.0
    if (path / "feats.scp").is_file():
        cfg = FeatureStore(path).config
        shift = cfg.frame_shift if cfg is not None else shift
    ds.add_dynamic_item(_crop_item(crop_seconds, shift, random_crop), takes=["feats"], provides="chunk")
    ds.add_dynamic_item(lambda uid: torch.LongTensor([labels.index[utt2spk[uid]]]), takes=["id"], provides="spk_id")
    ds.set_output_keys(["id", "chunk", "spk_id", "duration"])
    return ds


def _fbank_config_of(path: PathLike):
    from speechproc.features.fbank import FbankConfig, FeatureStore

    path = Path(path)
    if (path / "feats.scp").is_file():
        cfg = FeatureStore(path).config
        if cfg is not None:
            return cfg
    return FbankConfig()


def spk_datasets(hparams: dict) -> Tuple[DynamicItemDataset, DynamicItemDataset]:
    """(train, valid) datasets of the trainer for ``task: spk``; writes the label encoder into the exp dir.

    Keys: ``train_data``, ``valid_data``, ``output_folder``, ``n_speakers``, ``crop_seconds``,
    ``valid_crop_seconds``, ``min_duration``, ``max_train_utts``, ``max_valid_utts``.
    """
    from speechbrain.utils.distributed import if_main_process

    labels = SpeakerLabels.from_data_dir(hparams["train_data"])
    n = hparams.get("n_speakers")
    if n is not None and int(n) != len(labels):
        raise SpeechprocError(f"n_speakers is {n} in the config but {hparams['train_data']} has {len(labels)} speakers; "
                              f"fix: pass --n_speakers {len(labels)}")
    weight = getattr(hparams.get("modules", {}).get("classifier"), "weight", None)
    if weight is not None and weight.shape[0] < len(labels):
        raise SpeechprocError(f"the classifier has {weight.shape[0]} outputs but {hparams['train_data']} has "
                              f"{len(labels)} speakers; fix: give the classifier out_neurons >= {len(labels)}")
    train_fbank, valid_fbank = _fbank_config_of(hparams["train_data"]), _fbank_config_of(hparams["valid_data"])
    if train_fbank != valid_fbank:
        raise SpeechprocError(f"{hparams['valid_data']}: features differ from those of {hparams['train_data']} "
                              f"(fbank.json); fix: dump both with the same compute_fbank settings")
    out = Path(hparams["output_folder"])
    if if_main_process():
        labels.save(out / LABELS_FILE)
        atomic_write_text(out / FBANK_FILE, json.dumps(train_fbank.to_dict(), indent=2) + "\n")
        if hparams.get("cmvn_stats") and Path(hparams["cmvn_stats"]).is_file():  # the exp dir stands alone
            atomic_write_bytes(out / CMVN_FILE, Path(hparams["cmvn_stats"]).read_bytes())
    min_dur = float(hparams.get("min_duration", 0.0))
    train = _speaker_dataset(hparams["train_data"], labels, hparams.get("crop_seconds"), True, None,
                             hparams.get("max_train_utts"), min_dur)
    valid = _speaker_dataset(hparams["valid_data"], labels, hparams.get("valid_crop_seconds"), False, "ascending",
                             hparams.get("max_valid_utts"), min_dur)
    logger.info("speaker training: %d speakers, %d training / %d validation utterances", len(labels), len(train),
                len(valid))
    return train, valid


def normalize_features(feats: torch.Tensor, lengths: torch.Tensor, cmvn: Optional[torch.nn.Module] = None,
                       mean_norm: bool = True) -> torch.Tensor:
    """Global CMVN (when given), then per-utterance mean subtraction over the valid frames.

    Args:
        feats: ``(B, T, D)`` features.
        lengths: ``(B,)`` valid frame counts (integer).
        cmvn: a :class:`~speechproc.features.cmvn.GlobalCMVN` or None.
        mean_norm: subtract each utterance's mean (removes a fixed channel; used for speakers).

    Returns:
        ``(B, T, D)`` normalised features, zero past each length.
    """
    if cmvn is not None:
        feats, _ = cmvn(feats, lengths)
    mask = (torch.arange(feats.shape[1], device=feats.device)[None, :] < lengths.to(feats.device)[:, None])
    mask = mask.unsqueeze(-1).to(feats.dtype)
    if mean_norm:
        mean = (feats * mask).sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        feats = feats - mean
    return feats * mask


class SpeakerBrain(TaskBrain):
    """ECAPA-TDNN + AAM-softmax speaker classifier. ``compute_forward`` returns the cosines ``(B, 1, n_speakers)``."""

    def compute_forward(self, batch, stage):
        batch = batch.to(self.device)
        feats, rel = batch.chunk
        lengths = self.lengths_from_relative(rel, feats.shape[1])
        cmvn = self.modules["normalize"] if "normalize" in self.modules else None
        feats = normalize_features(feats, lengths, cmvn, bool(getattr(self.hparams, "utterance_mean_norm", True)))
        if stage == sb.Stage.TRAIN:
            for augment in getattr(self.hparams, "spec_augment", None) or []:
                feats = augment(feats)
        emb = self.modules.embedding_model(feats, rel)
        return self.modules.classifier(emb)

    def compute_objectives(self, predictions, batch, stage):
        spk, _ = batch.spk_id  # (B, 1)
        loss = self.hparams.compute_cost(predictions, spk)
        pred = predictions.squeeze(1).argmax(dim=-1)
        self.stage_metrics["correct"] += int((pred == spk.squeeze(1)).sum())
        self.stage_metrics["total"] += int(spk.shape[0])
        return loss

    def stage_start_stats(self, stage) -> None:
        self.stage_metrics.update(correct=0, total=0)

    def stage_stats(self, stage) -> Dict[str, float]:
        total = self.stage_metrics.get("total", 0)
        return {"acc": self.stage_metrics["correct"] / total} if total else {}
