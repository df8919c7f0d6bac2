"""LJ Speech 1.1: a single-speaker English TTS corpus (one female reader, public-domain books).

What: 13,100 clips (about 24 h) of one speaker, 22,050 Hz, 16-bit, mono, with the raw and the
normalised transcription (numbers, abbreviations written out) of each clip. A copy may hold only
a subset of the clips; ``metadata.csv`` then lists exactly the clips present.

Layout (``corpus_dir``, or ``corpus_dir`` itself being ``LJSpeech-1.1/``)::

    LJSpeech-1.1/metadata.csv     "LJ001-0001|raw text|normalised text"  (UTF-8, '|'-separated)
    LJSpeech-1.1/wavs/LJ001-0001.wav
    LJSpeech-1.1/README

Data dirs written: ``all`` (every clip of ``metadata.csv``); with ``num_eval > 0`` (default 4)
also ``train`` (all but the last ``num_eval`` clips in C-sorted id order) and ``eval`` (the last
``num_eval``), e.g. for speaker adaptation. Speaker ``LJ``; utterance ids are the clip ids
(``LJ001-0001``, which already start with the speaker), as ESPnet's ``egs2/ljspeech``. Text is the
normalised (third) column; a line with only two columns uses the second.

License: public domain (``LJSpeech-1.1/README``).
URL: https://keithito.com/LJ-Speech-Dataset/
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Union

from speechproc.data.corpora import download_error, resolve_corpus_dir, write_data_dirs
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = ["DOWNLOAD_COMMAND", "LAYOUT", "SAMPLE_RATE", "SPEAKER", "missing_layout", "ljspeech_root",
           "read_metadata", "prepare_ljspeech", "download_ljspeech"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

SAMPLE_RATE = 22050
SPEAKER = "LJ"
DOWNLOAD_COMMAND = (
    "mkdir -p {dest} && wget -O - https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2 | tar xjf - -C {dest}"
)
LAYOUT = "LJSpeech-1.1/metadata.csv ('id|text|normalised text' per clip), LJSpeech-1.1/wavs/<id>.wav"


def ljspeech_root(corpus_dir: PathLike) -> Path:
    """The ``LJSpeech-1.1`` folder: ``corpus_dir/LJSpeech-1.1`` or ``corpus_dir`` itself."""
    corpus_dir = Path(corpus_dir)
    inner = corpus_dir / "LJSpeech-1.1"
    return inner if inner.is_dir() else corpus_dir


def missing_layout(corpus_dir: Path) -> List[str]:
    """Expected paths absent from ``corpus_dir`` (empty when the layout is complete)."""
    root = ljspeech_root(corpus_dir)
    return [f"LJSpeech-1.1/{p}" for p in ("metadata.csv", "wavs/") if not (root / p).exists()]


def read_metadata(root: PathLike) -> DataDir:
    """Read ``<root>/metadata.csv`` into a data dir (normalised text); every clip must have its wav."""
    root = Path(root)
    meta = root / "metadata.csv"
    wav_scp: Dict[str, str] = {}
    text: Dict[str, str] = {}
    with open(meta, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("|")
            if len(cols) < 2 or not cols[0]:
                raise SpeechprocError(f"{meta}:{lineno}: expected 'id|text|normalised text', got {line!r}")
            utt = cols[0].strip()
            words = " ".join((cols[2] if len(cols) > 2 and cols[2].strip() else cols[1]).split())
            if not words:
                raise SpeechprocError(f"{meta}:{lineno}: empty text for {utt}")
            if utt in wav_scp:
                raise SpeechprocError(f"{meta}:{lineno}: clip id {utt} listed twice")
            wav = root / "wavs" / f"{utt}.wav"
            if not wav.is_file():
                raise SpeechprocError(
                    f"{meta}:{lineno}: clip {utt} has no audio: {wav} does not exist; metadata.csv must list "
                    f"only the clips present (re-extract the corpus, or remove the line)"
                )
            wav_scp[utt] = os.path.abspath(wav)
            text[utt] = words
    if not wav_scp:
        raise SpeechprocError(f"{meta}: no clips listed")
    return DataDir(wav_scp=wav_scp, utt2spk={u: SPEAKER for u in wav_scp}, text=text)


def prepare_ljspeech(
    corpus_dir: Optional[PathLike],
    out_dir: Optional[PathLike],
    num_eval: int = 4,
    check_audio: bool = False,
) -> Dict[str, DataDir]:
    """Prepare LJ Speech: ``all``, plus ``train``/``eval`` (last ``num_eval`` clips held out).

    Args:
        corpus_dir: folder holding ``LJSpeech-1.1/`` (or that folder itself); ``None`` resolves it
            from ``$LJSPEECH`` or ``$SPEECHPROC_CORPORA/ljspeech``.
        out_dir: folder receiving the data dirs; ``None`` validates only.
        num_eval: clips held out as ``eval``; 0 writes ``all`` only.
        check_audio: also open every wav (and check 22,050 Hz) during validation.

    Returns:
        set name -> data dir (on the 32-clip copy: all 32, train 28, eval 4).
    """
    root = ljspeech_root(resolve_corpus_dir("ljspeech", corpus_dir))
    data = read_metadata(root)
    utts = data.utts
    if not 0 <= num_eval < len(utts):
        raise SpeechprocError(f"ljspeech: num_eval={num_eval} must be between 0 and {len(utts) - 1}")
    sets = {"all": data}
    if num_eval > 0:
        sets["train"] = data.subset(utts[:-num_eval])
        sets["eval"] = data.subset(utts[-num_eval:])
    return write_data_dirs("ljspeech", sets, out_dir, check_audio=check_audio, sample_rate=SAMPLE_RATE)


def download_ljspeech(dest: PathLike) -> None:
    """Never downloads: raises with the command that fetches LJ Speech into ``dest``."""
    raise download_error("ljspeech", dest)
