"""LibriSpeech (OpenSLR SLR12): about 1,000 h of read English audiobooks (LibriVox), 16 kHz FLAC.

What: parts ``train-clean-100``, ``train-clean-360``, ``train-other-500``, ``dev-clean``,
``dev-other``, ``test-clean``, ``test-other`` (Mini LibriSpeech, SLR31: ``dev-clean-2``,
``train-clean-5``), each with upper-case transcripts without punctuation.

Layout (``corpus_dir``, holding ``LibriSpeech/`` as extracted from the tarballs, or the parts
directly)::

    LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac
    LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>.trans.txt    "<spk>-<chapter>-<utt> WORDS ..."

Data dirs written: one per part, named with ``-`` replaced by ``_`` (``dev-clean`` -> ``dev_clean``).
Utterance ids are the file ids ``<spk>-<chapter>-<utt>`` (already speaker-prefixed); speaker
``<spk>``; ``wav.scp`` points at the ``.flac`` files (read via soundfile).

License: CC BY 4.0.
URL: https://www.openslr.org/12/
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from speechproc.data.corpora import download_error, resolve_corpus_dir, write_data_dirs
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = ["DOWNLOAD_COMMAND", "LAYOUT", "SAMPLE_RATE", "KNOWN_PARTS", "missing_layout", "librispeech_root",
           "find_parts", "read_part", "prepare_librispeech", "download_librispeech"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

SAMPLE_RATE = 16000
KNOWN_PARTS = ("dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360",
               "train-other-500", "dev-clean-2", "train-clean-5")
DOWNLOAD_COMMAND = (
    "mkdir -p {dest} && for part in dev-clean test-clean train-clean-100; do wget -O - "
    "https://www.openslr.org/resources/12/${{part}}.tar.gz | tar xzf - -C {dest}; done"
)
LAYOUT = ("LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac and "
          "LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>.trans.txt (part e.g. dev-clean)")


def librispeech_root(corpus_dir: PathLike) -> Path:
    """The folder holding the parts: ``corpus_dir/LibriSpeech`` if it exists, else ``corpus_dir``."""
    inner = Path(corpus_dir) / "LibriSpeech"
    return inner if inner.is_dir() else Path(corpus_dir)


def _is_part(path: Path) -> bool:
    return path.is_dir() and next(path.glob("*/*/*.trans.txt"), None) is not None


def find_parts(corpus_dir: PathLike) -> List[str]:
    """Parts present (folders with ``<spk>/<chapter>/*.trans.txt``): known parts first, then others, sorted."""
    root = librispeech_root(corpus_dir)
    if not root.is_dir():
        return []
    names = sorted(p.name for p in root.iterdir() if _is_part(p))
    return [p for p in KNOWN_PARTS if p in names] + [p for p in names if p not in KNOWN_PARTS]


def missing_layout(corpus_dir: Path) -> List[str]:
    """Expected paths absent from ``corpus_dir`` (empty when at least one part is present)."""
    return [] if find_parts(corpus_dir) else ["LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>.trans.txt"]


def read_part(part_dir: PathLike) -> DataDir:
    """Data dir of one LibriSpeech part; every transcript line must have its ``.flac``."""
    part_dir = Path(part_dir)
    wav_scp: Dict[str, str] = {}
    utt2spk: Dict[str, str] = {}
    text: Dict[str, str] = {}
    for trans in sorted(part_dir.glob("*/*/*.trans.txt")):
        spk, chapter = trans.parent.parent.name, trans.parent.name
        with open(trans, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                fields = line.split(maxsplit=1)
                if not fields:
                    continue
                utt = fields[0]
                if not utt.startswith(f"{spk}-{chapter}-"):
                    raise SpeechprocError(
                        f"{trans}:{lineno}: utterance id '{utt}' does not start with '{spk}-{chapter}-' "
                        f"(the folder it is in)"
                    )
                if utt in wav_scp:
                    raise SpeechprocError(f"{trans}:{lineno}: utterance id '{utt}' listed twice")
                words = " ".join(fields[1].split()) if len(fields) > 1 else ""
                if not words:
                    raise SpeechprocError(f"{trans}:{lineno}: empty transcript for {utt}")
                audio = trans.parent / f"{utt}.flac"
                if not audio.is_file():
                    raise SpeechprocError(
                        f"{trans}:{lineno}: utterance {utt} has no audio: {audio} does not exist; "
                        f"re-extract the part or remove the line"
                    )
                wav_scp[utt] = os.path.abspath(audio)
                utt2spk[utt] = spk
                text[utt] = words
    if not wav_scp:
        raise SpeechprocError(f"librispeech: no utterances under {part_dir} (expected {LAYOUT})")
    return DataDir(wav_scp=wav_scp, utt2spk=utt2spk, text=text)


def prepare_librispeech(
    corpus_dir: Optional[PathLike],
    out_dir: Optional[PathLike],
    parts: Optional[Sequence[str]] = None,
    check_audio: bool = False,
) -> Dict[str, DataDir]:
    """Prepare LibriSpeech parts: one data dir per part (``dev-clean`` -> ``dev_clean``).

    Args:
        corpus_dir: folder holding ``LibriSpeech/<part>/`` (or the parts); ``None`` resolves it
            from ``$LIBRISPEECH`` or ``$SPEECHPROC_CORPORA/librispeech``.
        out_dir: folder receiving the data dirs; ``None`` validates only.
        parts: parts to prepare (``["dev-clean", "test-clean"]``); ``None`` = every part present.
        check_audio: also open every flac (and check 16 kHz) during validation.

    Returns:
        data dir name -> data dir.
    """
    root = resolve_corpus_dir("librispeech", corpus_dir)
    available = find_parts(root)
    chosen = list(parts) if parts else available
    unknown = [p for p in chosen if p not in available]
    if unknown:
        raise SpeechprocError(
            f"librispeech: part(s) {', '.join(unknown)} not found under {librispeech_root(root)}; "
            f"present: {', '.join(available)}"
        )
    sets = {p.replace("-", "_"): read_part(librispeech_root(root) / p) for p in chosen}
    return write_data_dirs("librispeech", sets, out_dir, check_audio=check_audio, sample_rate=SAMPLE_RATE)


def download_librispeech(dest: PathLike) -> None:
    """Never downloads: raises with the command that fetches LibriSpeech parts into ``dest``."""
    raise download_error("librispeech", dest)
