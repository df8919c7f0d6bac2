"""CMU ARCTIC: phonetically balanced English prompts read by several speakers, for TTS and VC.

What: about 1,132 prompts (``arctic_a0001``-``a0593``, ``arctic_b0001``-``b0539``) read by each
speaker (US: bdl, slt, clb, rms, ...), 16 kHz, 16-bit, mono, with the prompt texts in Festival
format. All speakers read the same prompts, so any two speakers form a parallel corpus.

Layout (``corpus_dir``)::

    cmu_us_<spk>_arctic/wav/arctic_a0001.wav
    cmu_us_<spk>_arctic/etc/txt.done.data      ( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )

Data dirs written, per speaker: ``<spk>_all``, and with ``num_eval > 0`` (default 5)
``<spk>_train`` and ``<spk>_eval`` = the last ``num_eval`` utterances (C-sorted by id) held out.
Utterance ids are ``<spk>_<prompt id>`` (``slt_arctic_a0001``), speaker ``<spk>``. Text is the
prompt as written (case and punctuation kept, outer white space stripped). With ``parallel=True``
(default) every speaker is restricted to the prompt ids that all chosen speakers have, so the dirs
match after the speaker prefix and the train/eval split is the same for every speaker.

License: free BSD-style licence of CMU ("distributed as free software, without restriction on
commercial or non-commercial use", Kominek & Black, CMU-LTI-03-177).
URL: http://festvox.org/cmu_arctic/
"""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from speechproc.data.corpora import check_speakers, download_error, resolve_corpus_dir, write_data_dirs
from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError

__all__ = ["DOWNLOAD_COMMAND", "LAYOUT", "SAMPLE_RATE", "missing_layout", "find_speakers", "parse_festival_line",
           "read_speaker", "prepare_cmu_arctic", "download_cmu_arctic"]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]

SAMPLE_RATE = 16000
DOWNLOAD_COMMAND = (
    "mkdir -p {dest} && for spk in clb slt; do wget -O - "
    "http://festvox.org/cmu_arctic/packed/cmu_us_${{spk}}_arctic.tar.bz2 | tar xjf - -C {dest}; done"
)
LAYOUT = "cmu_us_<spk>_arctic/wav/arctic_<id>.wav and cmu_us_<spk>_arctic/etc/txt.done.data, for each speaker"

_DIR_RE = re.compile(r"^cmu_us_(?P<spk>[a-z0-9]+)_arctic$")
_LINE_RE = re.compile(r'^\(\s*(?P<id>\S+)\s+"(?P<text>.*)"\s*\)$')


def find_speakers(corpus_dir: PathLike) -> List[str]:
    """Speakers with a ``cmu_us_<spk>_arctic/etc/txt.done.data`` under ``corpus_dir``, sorted."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        return []
    found = []
    for p in corpus_dir.iterdir():
        m = _DIR_RE.match(p.name)
        if m and (p / "etc" / "txt.done.data").is_file():
            found.append(m.group("spk"))
    return sorted(found)


def missing_layout(corpus_dir: Path) -> List[str]:
    """Expected paths absent from ``corpus_dir`` (empty when at least one speaker is complete)."""
    spks = find_speakers(corpus_dir)
    if not spks:
        return ["cmu_us_<spk>_arctic/etc/txt.done.data"]
    return [f"cmu_us_{s}_arctic/wav/" for s in spks if not (Path(corpus_dir) / f"cmu_us_{s}_arctic" / "wav").is_dir()]


def parse_festival_line(line: str) -> Tuple[str, str]:
    """``( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )`` -> (id, text).

    Raises:
        ValueError: the line is not in Festival's ``( id "text" )`` format.
    """
    m = _LINE_RE.match(line.strip())
    if m is None:
        raise ValueError("expected Festival format '( <id> \"<text>\" )'")
    return m.group("id"), " ".join(m.group("text").replace('\\"', '"').split())


def read_speaker(corpus_dir: PathLike, spk: str) -> DataDir:
    """Data dir of speaker ``spk``: every prompt of ``etc/txt.done.data``, which must all have a wav."""
    spk_dir = Path(corpus_dir) / f"cmu_us_{spk}_arctic"
    txt = spk_dir / "etc" / "txt.done.data"
    wav_scp: Dict[str, str] = {}
    text: Dict[str, str] = {}
    with open(txt, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                pid, words = parse_festival_line(line)
            except ValueError as e:
                raise SpeechprocError(f"{txt}:{lineno}: {e}; got {line.strip()!r}") from None
            utt = f"{spk}_{pid}"
            if utt in wav_scp:
                raise SpeechprocError(f"{txt}:{lineno}: prompt id {pid} listed twice")
            if not words:
                raise SpeechprocError(f"{txt}:{lineno}: empty text for {pid}")
            wav = spk_dir / "wav" / f"{pid}.wav"
            if not wav.is_file():
                raise SpeechprocError(
                    f"{txt}:{lineno}: prompt {pid} has no audio: {wav} does not exist; "
                    f"re-extract the corpus or remove the line"
                )
            wav_scp[utt] = os.path.abspath(wav)
            text[utt] = words
    extra = sorted(p.stem for p in (spk_dir / "wav").glob("*.wav") if f"{spk}_{p.stem}" not in wav_scp)
    if extra:
        logger.warning("cmu_arctic: %d wav file(s) of %s have no line in %s and are skipped (e.g. %s)",
                       len(extra), spk, txt, extra[0])
    return DataDir(wav_scp=wav_scp, utt2spk={u: spk for u in wav_scp}, text=text)


def prepare_cmu_arctic(
    corpus_dir: Optional[PathLike],
    out_dir: Optional[PathLike],
    speakers: Optional[Sequence[str]] = None,
    parallel: bool = True,
    num_eval: int = 5,
    check_audio: bool = False,
) -> Dict[str, DataDir]:
    """Prepare CMU ARCTIC: ``<spk>_all`` and ``<spk>_train`` / ``<spk>_eval`` per speaker.

    Args:
        corpus_dir: folder holding ``cmu_us_<spk>_arctic/``; ``None`` resolves it from
            ``$CMU_ARCTIC`` or ``$SPEECHPROC_CORPORA/cmu_arctic``.
        out_dir: folder receiving the data dirs; ``None`` validates only.
        speakers: speakers to prepare (e.g. ``["clb", "slt"]``); ``None`` = every speaker found.
        parallel: keep only the prompt ids present for every chosen speaker.
        num_eval: utterances per speaker held out as ``<spk>_eval`` (the last ones in id order);
            0 writes ``<spk>_all`` only.
        check_audio: also open every wav (and check 16 kHz) during validation.

    Returns:
        set name -> data dir (on the shared subset: clb_all / slt_all 29 each, parallel;
        train 24, eval 5).
    """
    root = resolve_corpus_dir("cmu_arctic", corpus_dir)
    available = find_speakers(root)
    chosen = list(speakers) if speakers else available
    check_speakers(chosen, available, "cmu_arctic", root)
    per_spk = {spk: read_speaker(root, spk) for spk in chosen}
    if parallel and len(chosen) > 1:
        common = set.intersection(*({u[len(s) + 1:] for u in d.utt2spk} for s, d in per_spk.items()))
        if not common:
            raise SpeechprocError(f"cmu_arctic: speakers {', '.join(chosen)} share no prompt id under {root}")
        for spk, data in per_spk.items():
            dropped = len(data.utt2spk) - len(common)
            if dropped:
                logger.info("cmu_arctic: %s: %d utterance(s) not read by every speaker dropped", spk, dropped)
            per_spk[spk] = data.subset([f"{spk}_{pid}" for pid in sorted(common)])
    sets: Dict[str, DataDir] = {}
    for spk, data in per_spk.items():
        utts = data.utts
        if not 0 <= num_eval < len(utts):
            raise SpeechprocError(f"cmu_arctic: num_eval={num_eval} must be between 0 and {len(utts) - 1} for {spk}")
        sets[f"{spk}_all"] = data
        if num_eval > 0:
            sets[f"{spk}_train"] = data.subset(utts[:-num_eval])
            sets[f"{spk}_eval"] = data.subset(utts[-num_eval:])
    return write_data_dirs("cmu_arctic", sets, out_dir, check_audio=check_audio, sample_rate=SAMPLE_RATE)


def download_cmu_arctic(dest: PathLike) -> None:
    """Never downloads: raises with the command that fetches CMU ARCTIC (clb, slt) into ``dest``."""
    raise download_error("cmu_arctic", dest)
