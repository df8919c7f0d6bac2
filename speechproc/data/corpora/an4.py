"""AN4 (CMU Census database): a tiny English ASR corpus of spoken letters, digits and words.

What: 1078 utterances of 84 speakers reading census data (names, addresses, digits, spelled
letters) plus control words (``YES``, ``NO``, ``GO``, ``RUBOUT``, ``ERASE``, ...), recorded at CMU
around 1991 on a close-talking microphone, 16 kHz. Train 948 utterances (74 speakers), test 130
(10 speakers). Used as the smoke-test corpus of ESPnet (``egs2/an4``) and SphinxTrain.

Layout (``corpus_dir``)::

    etc/an4_train.transcription    "<s> YES </s> (an251-fash-b)"  (test: "RUBOUT G M E F THREE NINE (an406-fcaw-b)")
    etc/an4_train.fileids          "an4_clstk/fash/an251-fash-b"  (1:1 with the transcription lines)
    etc/an4_test.transcription, etc/an4_test.fileids
    wav/an4_clstk/<spk>/<file-id>.wav       (train; ``.sph`` NIST sphere in the CMU tarball)
    wav/an4test_clstk/<spk>/<file-id>.wav   (test)

Data dirs written (as ESPnet ``egs2/an4/asr1/local/data.sh``):

- ``train`` (948), ``train_dev`` (the first ``num_dev`` = 100 utterances of ``train`` in C-sorted
  utterance-id order, as ESPnet's ``utils/subset_data_dir.sh --first data/train 100``),
  ``train_nodev`` (the other 848, ESPnet's ``--last``), ``test`` (130).
- Utterance ids are speaker-prefixed as in ESPnet: file ``an251-fash-b`` -> ``fash-an251-b``,
  speaker ``fash``.
- Text is normalised as ESPnet does: the ``(file-id)`` suffix and the ``<s>`` / ``</s>`` markers are
  removed; in addition it is upper-cased and runs of white space are collapsed.
- ``wav.scp`` points at the ``.wav`` files (read directly; ESPnet pipes ``.sph`` through
  ``sph2pipe``); when only ``.sph`` exists, it points at the ``.sph`` (read via soundfile).

License: CMU BSD-style, "free for use for any purpose (commercial or otherwise)" (``LICENSE``).
URL: http://www.speech.cs.cmu.edu/databases/an4/ (WAV conversion: https://github.com/cmusphinx/an4).
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from speechproc.data.corpora import download_error, resolve_corpus_dir, write_data_dirs
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = [
    "DOWNLOAD_COMMAND",
    "LAYOUT",
    "SAMPLE_RATE",
    "SETS",
    "missing_layout",
    "parse_transcription_line",
    "utt_id_of",
    "read_an4_set",
    "prepare_an4",
    "download_an4",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

SAMPLE_RATE = 16000
#: set name -> (transcription/fileids stem under etc/, audio folder under wav/)
SETS: Dict[str, Tuple[str, str]] = {"train": ("an4_train", "an4_clstk"), "test": ("an4_test", "an4test_clstk")}
DOWNLOAD_COMMAND = (
    "mkdir -p {dest} && wget -O - http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz"
    " | tar xzf - -C {dest} --strip-components=1"
    "   (or the WAV version: git clone https://github.com/cmusphinx/an4.git {dest})"
)
LAYOUT = (
    "etc/an4_{train,test}.transcription, etc/an4_{train,test}.fileids, "
    "wav/an4_clstk/<spk>/<file-id>.wav, wav/an4test_clstk/<spk>/<file-id>.wav (.sph also accepted)"
)

_LINE_RE = re.compile(r"^(?P<words>.*?)\s*\((?P<fid>[^()\s]+)\)\s*$")


def missing_layout(corpus_dir: Path) -> List[str]:
    """Expected paths absent from ``corpus_dir`` (empty when the layout is complete)."""
    expected = [f"etc/{stem}.{ext}" for stem, _ in SETS.values() for ext in ("transcription", "fileids")]
    expected += [f"wav/{folder}" for _, folder in SETS.values()]
    return [p for p in expected if not (Path(corpus_dir) / p).exists()]


def parse_transcription_line(line: str) -> Tuple[str, str]:
    """Split one AN4 transcription line into (file id, normalised text).

    ``"<s> YES </s> (an251-fash-b)"`` -> ``("an251-fash-b", "YES")``;
    ``"RUBOUT G M E F THREE NINE (an406-fcaw-b)"`` -> ``("an406-fcaw-b", "RUBOUT G M E F THREE NINE")``.

    Raises:
        ValueError: the line has no ``(file-id)`` suffix.
    """
    m = _LINE_RE.match(line.strip())
    if m is None:
        raise ValueError("expected '<s> WORDS </s> (file-id)' or 'WORDS (file-id)'")
    words = m.group("words").split()
    if words and words[0] == "<s>":
        words = words[1:]
    if words and words[-1] == "</s>":
        words = words[:-1]
    return m.group("fid"), " ".join(words).upper()


def utt_id_of(file_id: str) -> Tuple[str, str]:
    """ESPnet's speaker-prefixed utterance id and the speaker of an AN4 file id.

    ``"an251-fash-b"`` -> ``("fash-an251-b", "fash")``.

    Raises:
        ValueError: the file id is not ``<utt>-<spk>-<channel>``.
    """
    parts = file_id.split("-")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"file id '{file_id}' is not '<utt>-<speaker>-<channel>' (e.g. an251-fash-b)")
    pre, spk, last = parts
    return f"{spk}-{pre}-{last}", spk


def _audio_path(corpus_dir: Path, rel: str) -> Optional[Path]:
    for ext in (".wav", ".sph"):
        p = corpus_dir / "wav" / (rel + ext)
        if p.is_file():
            return p
    return None


def read_an4_set(corpus_dir: PathLike, name: str) -> DataDir:
    """Read AN4 set ``name`` (``"train"`` or ``"test"``) from its transcription and fileids.

    Every transcription line must have its file id on the same line of the ``.fileids`` file and
    an audio file; otherwise the error names the file and line.
    """
    corpus_dir = Path(corpus_dir)
    stem, _ = SETS[name]
    trans_path = corpus_dir / "etc" / f"{stem}.transcription"
    ids_path = corpus_dir / "etc" / f"{stem}.fileids"
    trans = [ln for ln in trans_path.read_text(encoding="utf-8").splitlines()]
    fileids = [ln.strip() for ln in ids_path.read_text(encoding="utf-8").splitlines()]
    while trans and not trans[-1].strip():
        trans.pop()
    while fileids and not fileids[-1]:
        fileids.pop()
    if len(trans) != len(fileids):
        raise SpeechprocError(
            f"{trans_path} has {len(trans)} lines but {ids_path} has {len(fileids)}; they must list the same "
            f"files in the same order (re-extract the corpus)"
        )
    wav_scp: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    text: Dict[str, str] = {}
    for lineno, (line, rel) in enumerate(zip(trans, fileids), start=1):
        try:
            fid, words = parse_transcription_line(line)
            utt, spk = utt_id_of(fid)
        except ValueError as e:
            raise SpeechprocError(f"{trans_path}:{lineno}: {e}; line: {line.strip()!r}") from None
        if rel.rsplit("/", 1)[-1] != fid:
            raise SpeechprocError(
                f"{ids_path}:{lineno}: '{rel}' does not match file id '{fid}' of {trans_path}:{lineno}; "
                f"the two files must list the same files in the same order (re-extract the corpus)"
            )
        if not words:
            raise SpeechprocError(f"{trans_path}:{lineno}: empty transcription for {fid}")
        if utt in utt2spk:
            raise SpeechprocError(f"{trans_path}:{lineno}: file id '{fid}' listed twice")
        audio = _audio_path(corpus_dir, rel)
        if audio is None:
            raise SpeechprocError(
                f"{trans_path}:{lineno}: audio for '{fid}' not found: neither {corpus_dir / 'wav' / rel}.wav "
                f"nor .sph exists; the corpus copy is incomplete, re-extract it or remove the line"
            )
        wav_scp[utt] = os.path.abspath(audio)
        utt2spk[utt] = spk
        text[utt] = words
    return DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text)


def prepare_an4(
    corpus_dir: Optional[PathLike],
    out_dir: Optional[PathLike],
    num_dev: int = 100,
    check_audio: bool = False,
) -> Dict[str, DataDir]:
    """Prepare AN4 as ESPnet's ``egs2/an4``: ``train``, ``train_dev``, ``train_nodev``, ``test``.

    Args:
        corpus_dir: the AN4 folder (``etc/``, ``wav/``); ``None`` resolves it from ``$AN4`` or
            ``$SPEECHPROC_CORPORA/an4``.
        out_dir: folder receiving one data dir per set; ``None`` validates only.
        num_dev: utterances held out of ``train`` as ``train_dev`` (the first ones in C-sorted
            utterance-id order, as ESPnet).
        check_audio: also open every audio file during validation.

    Returns:
        set name -> data dir (on the real corpus: train 948, train_dev 100, train_nodev 848, test 130).
    """
    root = resolve_corpus_dir("an4", corpus_dir)
    train = read_an4_set(root, "train")
    test = read_an4_set(root, "test")
    utts = train.utts
    if not 0 < num_dev < len(utts):
        raise SpeechprocError(f"an4: num_dev={num_dev} must be between 1 and {len(utts) - 1} (train has {len(utts)})")
    sets = {
        "train": train,
        "train_dev": train.subset(utts[:num_dev]),
        "train_nodev": train.subset(utts[num_dev:]),
        "test": test,
    }
    return write_data_dirs("an4", sets, out_dir, check_audio=check_audio, sample_rate=SAMPLE_RATE)


def download_an4(dest: PathLike) -> None:
    """Never downloads: raises with the command that fetches AN4 into ``dest``."""
    raise download_error("an4", dest)
