"""yesno (OpenSLR SLR1): 60 recordings of one male speaker saying eight words, each "yes" or "no".

What: the toy corpus of Kaldi's ``egs/yesno`` and icefall's ``egs/yesno``; 8 kHz, 16-bit, mono.
There is no transcript file: the word sequence is the file name, ``1`` = YES, ``0`` = NO
(``0_1_1_0_0_1_1_0.wav`` -> ``NO YES YES NO NO YES YES NO``).

Layout (``corpus_dir``)::

    waves_yesno/<b>_<b>_<b>_<b>_<b>_<b>_<b>_<b>.wav    (60 files, b in {0, 1})
    waves_yesno/README

Data dirs written: ``train`` (the first half of the files sorted by name, 30) and ``test`` (the
second half, 30), as Kaldi's ``local/create_yesno_waves_test_train.pl``. One speaker, ``S0``;
utterance ids are speaker-prefixed: ``S0-0_0_0_0_1_1_1_1``.

License: CC BY 4.0 as shown on openslr.org for SLR1 (the corpus README states none).
URL: https://www.openslr.org/1/
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Union

from speechproc.data.corpora import download_error, resolve_corpus_dir, write_data_dirs
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = ["DOWNLOAD_COMMAND", "LAYOUT", "SAMPLE_RATE", "SPEAKER", "missing_layout", "text_of",
           "prepare_yesno", "download_yesno"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

SAMPLE_RATE = 8000
SPEAKER = "S0"
DOWNLOAD_COMMAND = (
    "mkdir -p {dest} && wget -O - https://www.openslr.org/resources/1/waves_yesno.tar.gz | tar xzf - -C {dest}"
)
LAYOUT = "waves_yesno/<0|1>_<0|1>_..._<0|1>.wav (8 digits, 1 = yes, 0 = no; 60 files)"

_NAME_RE = re.compile(r"^[01](_[01])*$")
_WORDS = {"0": "NO", "1": "YES"}


def missing_layout(corpus_dir: Path) -> List[str]:
    """Expected paths absent from ``corpus_dir`` (empty when the layout is complete)."""
    waves = Path(corpus_dir) / "waves_yesno"
    if not waves.is_dir():
        return ["waves_yesno/"]
    if not any(waves.glob("*.wav")):
        return ["waves_yesno/*.wav"]
    return []


def text_of(name: str) -> str:
    """Transcript encoded in a file name: ``"0_1_1_0_0_1_1_0"`` -> ``"NO YES YES NO NO YES YES NO"``."""
    if not _NAME_RE.match(name):
        raise ValueError(f"'{name}' is not a yesno file name (digits 0/1 joined by '_')")
    return " ".join(_WORDS[b] for b in name.split("_"))


def prepare_yesno(
    corpus_dir: Optional[PathLike],
    out_dir: Optional[PathLike],
    check_audio: bool = False,
) -> Dict[str, DataDir]:
    """Prepare yesno: ``train`` (first 30 files by name) and ``test`` (last 30).

    Args:
        corpus_dir: folder holding ``waves_yesno/``; ``None`` resolves it from ``$YESNO`` or
            ``$SPEECHPROC_CORPORA/yesno``.
        out_dir: folder receiving ``train/`` and ``test/``; ``None`` validates only.
        check_audio: also open every wav (and check 8 kHz) during validation.

    Returns:
        ``{"train": DataDir, "test": DataDir}``.
    """
    root = resolve_corpus_dir("yesno", corpus_dir)
    waves = root / "waves_yesno"
    files = sorted(waves.glob("*.wav"), key=lambda p: p.name)
    wav_scp: Dict[str, str] = {}
    text: Dict[str, str] = {}
    for f in files:
        try:
            words = text_of(f.stem)
        except ValueError as e:
            raise SpeechprocError(f"{f}: {e}; remove or rename the file") from None
        utt = f"{SPEAKER}-{f.stem}"
        wav_scp[utt] = os.path.abspath(f)
        text[utt] = words
    all_data = DataDir(wav_scp=wav_scp, utt2spk={u: SPEAKER for u in wav_scp}, text=text)
    utts = [f"{SPEAKER}-{f.stem}" for f in files]
    if len(utts) < 2:
        raise SpeechprocError(f"{waves}: found {len(utts)} wav file(s); need at least 2 to make train and test")
    half = len(utts) // 2  # Kaldi: line i (1-based) goes to train when i <= n/2
    sets = {"train": all_data.subset(utts[:half]), "test": all_data.subset(utts[half:])}
    return write_data_dirs("yesno", sets, out_dir, check_audio=check_audio, sample_rate=SAMPLE_RATE)


def download_yesno(dest: PathLike) -> None:
    """Never downloads: raises with the command that fetches yesno into ``dest``."""
    raise download_error("yesno", dest)
