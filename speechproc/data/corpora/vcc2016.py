"""VCC2016 (Voice Conversion Challenge 2016): parallel English speech for voice conversion.

What: 10 US English speakers (source SF1-SF3, SM1-SM2; target TF1-TF2, TM1-TM3) reading the same
sentences: 162 training and 54 evaluation utterances per speaker, 16 kHz, 16-bit, mono. There are
no transcripts. A copy may hold only some speakers or files; only the files present are used.

Layout (``corpus_dir``)::

    vcc2016_training/<SPK>/1000NN.wav    (training ids 100001..)
    evaluation_all/<SPK>/2000NN.wav      (evaluation ids 200001..)

Data dirs written: ``<SPK>_train`` and ``<SPK>_eval`` per speaker, with ``text`` absent
(``DataDir.text is None``). Utterance ids are ``<SPK>_<file id>`` (``SF1_100001``), speaker
``<SPK>``, so the dirs of two speakers are parallel: their ids match after the speaker prefix.
With a ``src``/``tgt`` pair (default ``SF1`` -> ``TF1``) only the four dirs of the pair are written,
each restricted to the file ids present for both speakers; with ``src=tgt=None`` every speaker is
written with all its files.

License: released by the challenge organisers on Edinburgh DataShare (handle 10283/2211); check
the licence on that page before redistributing.
URL: https://datashare.ed.ac.uk/handle/10283/2211
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Union

from speechproc.data.corpora import check_speakers, download_error, resolve_corpus_dir, write_data_dirs
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = ["DOWNLOAD_COMMAND", "LAYOUT", "SAMPLE_RATE", "SPLITS", "missing_layout", "find_speakers",
           "file_ids", "speaker_dir", "prepare_vcc2016", "download_vcc2016"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

SAMPLE_RATE = 16000
#: split name -> folder under corpus_dir
SPLITS: Dict[str, str] = {"train": "vcc2016_training", "eval": "evaluation_all"}
_URL = "https://datashare.ed.ac.uk/bitstream/handle/10283/2211"
DOWNLOAD_COMMAND = (
    "mkdir -p {dest} && cd {dest} && wget " + _URL + "/vcc2016_training.zip " + _URL + "/evaluation_all.zip"
    " && unzip vcc2016_training.zip && unzip evaluation_all.zip"
)
LAYOUT = "vcc2016_training/<SPK>/1000NN.wav, evaluation_all/<SPK>/2000NN.wav (SPK e.g. SF1, TF1)"


def missing_layout(corpus_dir: Path) -> List[str]:
    """Expected paths absent from ``corpus_dir`` (empty when the layout is complete)."""
    return [f"{d}/" for d in SPLITS.values() if not (Path(corpus_dir) / d).is_dir()]


def find_speakers(corpus_dir: PathLike) -> List[str]:
    """Speakers with a folder in any split, sorted."""
    found = set()
    for d in SPLITS.values():
        split_dir = Path(corpus_dir) / d
        if split_dir.is_dir():
            found.update(p.name for p in split_dir.iterdir() if p.is_dir())
    return sorted(found)


def file_ids(corpus_dir: PathLike, speaker: str, split: str) -> List[str]:
    """Sorted file ids (``100001``) of ``speaker`` in ``split`` (``"train"`` or ``"eval"``)."""
    d = Path(corpus_dir) / SPLITS[split] / speaker
    return sorted(p.stem for p in d.glob("*.wav")) if d.is_dir() else []


def speaker_dir(corpus_dir: PathLike, speaker: str, split: str, ids: Optional[List[str]] = None) -> DataDir:
    """Data dir of ``speaker`` in ``split`` (no text), restricted to file ``ids`` when given."""
    d = Path(corpus_dir) / SPLITS[split] / speaker
    ids = file_ids(corpus_dir, speaker, split) if ids is None else ids
    wav_scp = {}
    for fid in ids:
        wav = d / f"{fid}.wav"
        if not wav.is_file():
            raise SpeechprocError(f"vcc2016: {wav} does not exist (speaker {speaker}, split {split}, id {fid})")
        wav_scp[f"{speaker}_{fid}"] = os.path.abspath(wav)
    return DataDir(wav_scp=wav_scp, utt2spk={u: speaker for u in wav_scp}, text=None)


def prepare_vcc2016(
    corpus_dir: Optional[PathLike],
    out_dir: Optional[PathLike],
    src: Optional[str] = "SF1",
    tgt: Optional[str] = "TF1",
    check_audio: bool = False,
) -> Dict[str, DataDir]:
    """Prepare VCC2016 data dirs, parallel for a source/target pair or for every speaker.

    Args:
        corpus_dir: folder holding ``vcc2016_training/`` and ``evaluation_all/``; ``None`` resolves
            it from ``$VCC2016`` or ``$SPEECHPROC_CORPORA/vcc2016``.
        out_dir: folder receiving the data dirs; ``None`` validates only.
        src: source speaker (e.g. ``SF1``); ``None`` together with ``tgt=None`` means every speaker.
        tgt: target speaker (e.g. ``TF1``).
        check_audio: also open every wav (and check 16 kHz) during validation.

    Returns:
        With a pair: ``{<src>_train, <tgt>_train, <src>_eval, <tgt>_eval}``, each pair of dirs
        holding the file ids present for both speakers (SF1 -> TF1 on the shared subset: 66 train,
        19 eval). Without: ``<SPK>_train`` / ``<SPK>_eval`` for every speaker (an empty split is
        skipped with a warning).
    """
    root = resolve_corpus_dir("vcc2016", corpus_dir)
    available = find_speakers(root)
    if (src is None) != (tgt is None):
        raise SpeechprocError(f"vcc2016: give both src and tgt (got src={src}, tgt={tgt}), or neither for all speakers")
    sets: Dict[str, DataDir] = {}
    if src is None:
        for spk in available:
            for split in SPLITS:
                data = speaker_dir(root, spk, split)
                if not data.utt2spk:
                    logger.warning("vcc2016: speaker %s has no files in %s; %s_%s not written",
                                   spk, root / SPLITS[split], spk, split)
                    continue
                sets[f"{spk}_{split}"] = data
    else:
        assert tgt is not None
        if src == tgt:
            raise SpeechprocError(f"vcc2016: src and tgt are both {src}; choose two different speakers")
        check_speakers([src, tgt], available, "vcc2016", root)
        for split in SPLITS:
            common = sorted(set(file_ids(root, src, split)) & set(file_ids(root, tgt, split)))
            if not common:
                raise SpeechprocError(
                    f"vcc2016: {src} and {tgt} have no file id in common under {root / SPLITS[split]}; "
                    f"check that both {src}/ and {tgt}/ hold their wavs"
                )
            for spk in (src, tgt):
                sets[f"{spk}_{split}"] = speaker_dir(root, spk, split, common)
        sets = {k: sets[k] for k in (f"{src}_train", f"{tgt}_train", f"{src}_eval", f"{tgt}_eval")}
    return write_data_dirs("vcc2016", sets, out_dir, check_audio=check_audio, sample_rate=SAMPLE_RATE)


def download_vcc2016(dest: PathLike) -> None:
    """Never downloads: raises with the command that fetches VCC2016 into ``dest``."""
    raise download_error("vcc2016", dest)
