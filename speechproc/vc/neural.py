"""Training of the neural voice converters through the shared trainer: what ``train_vc --method seq2seq|recsynth``
does, so that a VC recipe's training stage is one verb for every method.

- ``seq2seq`` (method 2): log-mel dumps (the TTS front end, 22.05 kHz, 80 bins) and CMVN statistics of both
  speakers, then the trainer's task ``vc`` (a Tacotron-style source-mel -> target-mel model, ``init_tts`` the
  Tacotron 2 it starts from).
- ``recsynth`` (method 3): the target's log-mel dump and CMVN statistics, its content dump (Whisper encoder states +
  log-F0) with the settings of the pre-trained decoder it adapts (``init_model``), the trainer's task ``recsynth``,
  then, with a GAN vocoder, that vocoder fine-tuned on the adapted decoder's ground-truth-aligned predictions of the
  same clips (``finetune_vocoder``, into ``<exp>/vocoder``). ``recsynth_n<N>`` is the same on the first N target
  clips (a data curve).

A dump is (re)made when forced, missing, or made from another data dir (its ``utt2spk`` differs), so switching the
speaker pair of a recipe never trains on the previous pair's features.
"""
from __future__ import annotations

import filecmp
import logging
import re
import shutil
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from speechproc.utils import PathLike, SpeechprocError

logger = logging.getLogger(__name__)

__all__ = ["NEURAL_METHODS", "neural_method", "mel_dump", "content_dump", "train_seq2seq", "train_recsynth",
           "config_value"]

NEURAL_METHODS = ("seq2seq", "recsynth")


def neural_method(method: str) -> Optional[Tuple[str, Optional[int]]]:
    """``("seq2seq", None)``, ``("recsynth", None)``, ``("recsynth", N)`` for ``recsynth_n<N>``; None for a
    frame-level method (gmm, dnn, ...)."""
    if method in NEURAL_METHODS:
        return method, None
    m = re.fullmatch(r"recsynth_n(\d+)", method)
    if m:
        if int(m.group(1)) < 1:
            raise SpeechprocError(f"method {method}: recsynth_n<N> needs N >= 1 target clips")
        return "recsynth", int(m.group(1))
    return None


def _stale(data_dir: Path, dump_dir: Path, marker: str, force: bool) -> bool:
    return (force or not (dump_dir / marker).is_file() or not (dump_dir / "utt2spk").is_file()
            or not filecmp.cmp(data_dir / "utt2spk", dump_dir / "utt2spk", shallow=False))


def mel_dump(data_dir: PathLike, dump_dir: PathLike, nj: int = 1, force: bool = False) -> Path:
    """The log-mel dump of ``data_dir`` with its ``cmvn.npz``, made unless it is there and of this data dir."""
    from speechproc.features.cmvn import write_cmvn_stats
    from speechproc.features.mel import dump_mel

    data_dir, dump_dir = Path(data_dir), Path(dump_dir)
    if _stale(data_dir, dump_dir, "cmvn.npz", force):
        dump_mel(data_dir, dump_dir, nj=nj)
        write_cmvn_stats(dump_dir, dump_dir / "cmvn.npz")
    else:
        logger.info("%s: the log-mel dump of %s is there", dump_dir, data_dir)
    return dump_dir


def content_dump(data_dir: PathLike, dump_dir: PathLike, like: Optional[PathLike], nj: int = 1,
                 force: bool = False) -> Path:
    """The content dump of ``data_dir``: the settings of ``like`` (a recsynth exp dir or content dump), else
    the default :class:`ContentConfig` (Whisper tiny.en layer 4 on the default mel grid); made unless it is there,
    of this data dir and these settings."""
    from speechproc.features.content import ContentConfig, content_config_of, dump_content, load_content_config

    data_dir, dump_dir = Path(data_dir), Path(dump_dir)
    config = content_config_of(like) if like else ContentConfig()
    stale = _stale(data_dir, dump_dir, "content.json", force)
    if not stale and load_content_config(dump_dir) != config:
        logger.info("%s: made with other content settings; made again", dump_dir)
        stale = True
    if stale:
        dump_content(data_dir, dump_dir, config, nj=nj)
    else:
        logger.info("%s: the content dump of %s is there", dump_dir, data_dir)
    return dump_dir


def _starting_model(config: str, key: str, given: Optional[str], what: str, fix: str) -> Optional[str]:
    """The model file a neural method starts from: ``given``, else the config's ``key``; None for "null" (from
    scratch); a file that is not there is an error naming it and ``fix``."""
    value = config_value(config, key) if given is None else given
    if value in (None, "null"):
        return None
    if not Path(value).is_file():
        raise SpeechprocError(f"{what} {value} not found; {fix}")
    return value


def _train(config: str, overrides: Sequence[str], extra: Sequence[str]) -> None:
    from speechproc.train import train

    train([config, *overrides, *extra])


def train_seq2seq(config: str, src: PathLike, tgt: PathLike, out: PathLike, dump_root: PathLike = "dump",
                  init_tts: Optional[str] = None, max_utts: Optional[int] = None, nj: int = 1, force: bool = False,
                  train_args: Sequence[str] = ()) -> Path:
    """Method 2 (see the module docstring); ``init_tts`` None keeps the config's ("null": from scratch)."""
    init_tts = _starting_model(config, "init_tts", init_tts, "seq2seq: the Tacotron 2 it starts from,",
                               "train it (egs/ljspeech/tts) or give another (--init-tts, null: from scratch)")
    dumps = [mel_dump(d, Path(dump_root) / Path(d).name, nj=nj, force=force) for d in (src, tgt)]
    out = Path(out)
    if force and out.exists():
        shutil.rmtree(out)
    s, t = (str(d) for d in dumps)
    overrides = ["--output_folder", str(out), "--src_train_data", s, "--tgt_train_data", t, "--src_valid_data", s,
                 "--tgt_valid_data", t, "--src_cmvn", f"{s}/cmvn.npz", "--tgt_cmvn", f"{t}/cmvn.npz"]
    overrides += ["--init_tts", init_tts or "null"]
    if max_utts:
        overrides += ["--max_train_utts", str(max_utts)]
    _train(config, overrides, train_args)
    return out


def train_recsynth(config: str, tgt: PathLike, out: PathLike, dump_root: PathLike = "dump",
                   init_model: Optional[str] = None, vocoder: Optional[str] = None, max_utts: Optional[int] = None,
                   nj: int = 1, force: bool = False, train_args: Sequence[str] = (),
                   voc_config: Optional[str] = None, voc_ft_epochs: int = 0, voc_ft_lr: float = 1e-4) -> Path:
    """Method 3 (see the module docstring). ``init_model``: the pre-trained decoder's model.pt ("null": from
    scratch; None: the config's); ``vocoder``: a GAN vocoder exp dir ("none": Griffin-Lim; None: the config's
    ``vocoder_checkpoint``), fine-tuned on the adapted decoder's predictions for ``voc_ft_epochs`` epochs with
    ``voc_config``."""
    tgt = Path(tgt)
    init_model = _starting_model(config, "init_model", init_model, "recsynth: pre-trained decoder",
                                 "run egs/ljspeech_teacher/tts stages 1-3 and 21 first, or give another (--recsynth-init, null: "
                                 "from scratch)")
    if vocoder is None:
        vocoder = config_value(config, "vocoder_checkpoint")
    if vocoder in ("none", "null", ""):
        vocoder = None
    like = str(Path(init_model).parent) if init_model else None
    mel = mel_dump(tgt, Path(dump_root) / tgt.name, nj=nj, force=force)
    content = content_dump(tgt, Path(dump_root) / f"{tgt.name}_content", like, nj=nj, force=force)
    if vocoder is not None and not (Path(vocoder) / "model.pt").is_file():
        raise SpeechprocError(f"recsynth: vocoder {vocoder}/model.pt not found; train it (egs/ljspeech_teacher/tts "
                              f"stages 17 and 23) or give --vocoder none")
    out = Path(out)
    if force and out.exists():
        shutil.rmtree(out)
    overrides = ["--output_folder", str(out), "--train_data", str(content), "--train_mel", str(mel),
                 "--valid_data", str(content), "--valid_mel", str(mel), "--cmvn_stats", f"{mel}/cmvn.npz",
                 "--init_model", init_model or "null",
                 "--vocoder_checkpoint", str(Path(vocoder).resolve()) if vocoder else "null"]
    if max_utts:
        overrides += ["--max_train_utts", str(max_utts)]
    _train(config, overrides, train_args)
    if vocoder and voc_ft_epochs > 0:
        if not voc_config:
            raise SpeechprocError("recsynth: fine-tuning the vocoder needs its training config (--voc-config)")
        from speechproc.bin import finetune_vocoder

        voc_args: List[str] = ["--exp-dir", str(out), "--train", str(tgt), "--init", str(vocoder), "--config",
                               voc_config, "--nj", str(nj), "--number_of_epochs", str(voc_ft_epochs), "--lr",
                               str(voc_ft_lr)]
        if max_utts:
            voc_args += ["--max_train_utts", str(max_utts)]
        finetune_vocoder.main([*voc_args, str(out / "vocoder")])
    return out


def config_value(config: str, key: str) -> Optional[str]:
    """A top-level value of a training yaml, read as plain data (None when absent, null or a placeholder)."""
    from speechproc.utils import load_yaml_plain

    data = load_yaml_plain(Path(config).read_text(encoding="utf-8"))
    value = data.get(key) if isinstance(data, dict) else None
    return None if value is None else str(value)
