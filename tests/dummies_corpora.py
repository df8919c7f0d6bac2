"""Tiny synthetic corpora in their real layouts, for tests (regenerated on every call; no stored files).

- :func:`make_librispeech`: ``LibriSpeech/<part>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac`` + ``.trans.txt``.
- :func:`make_an4`: ``etc/an4_{train,test}.{transcription,fileids}`` + ``wav/an4{,test}_clstk/<spk>/<id>.wav``,
  with an option to truncate chosen wavs (header claims more samples than the file holds).

Audio is a short tone plus a little deterministic noise, 16 kHz, 16-bit.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
import soundfile as sf

#: LibriSpeech fixture: part -> {(speaker, chapter): [transcripts]}
LIBRISPEECH_PARTS: Dict[str, Dict[Tuple[str, str], List[str]]] = {
    "dev-clean": {
        ("1272", "128104"): ["MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES",
                             "NOR IS MISTER QUILTER'S MANNER LESS INTERESTING"],
        ("174", "50561"): ["FORGOTTEN TOO THE NAME OF GILLIAN THE LOVELY CAPTIVE"],
    },
    "test-clean": {
        ("1089", "134686"): ["HE HOPED THERE WOULD BE STEW FOR DINNER", "STUFF IT INTO YOU HIS BELLY COUNSELLED HIM"],
    },
}

#: AN4 fixture: set -> [(file id, words)]; train lines get "<s> ... </s>" as in the real corpus.
AN4_SETS: Dict[str, List[Tuple[str, str]]] = {
    "train": [
        ("an251-fash-b", "YES"),
        ("an253-fash-b", "GO"),
        ("cen1-fash-b", "H I N I C H"),
        ("an76-fbbh-b", "ENTER SIX TWO FOUR"),
        ("cen2-fbbh-b", "ERASE T W O"),
        ("an1-mgah-b", "RUBOUT"),
    ],
    "test": [
        ("an406-fcaw-b", "RUBOUT G M E F THREE NINE"),
        ("an407-fcaw-b", "ERASE C Q Q F SEVEN"),
        ("cen1-mjgk-b", "NO"),
    ],
}
_AN4_DIRS = {"train": ("an4_train", "an4_clstk"), "test": ("an4_test", "an4test_clstk")}


def tone(seconds: float = 0.25, sample_rate: int = 16000, freq: float = 220.0, seed: int = 0) -> np.ndarray:
    """A deterministic float32 tone with a little noise, shape (T,)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    noise = np.random.default_rng(seed).standard_normal(t.shape) * 0.01
    return (0.3 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write_truncated_wav(path: Path, audio: np.ndarray, sample_rate: int, keep: float = 0.5) -> None:
    """Write a 16-bit wav whose header claims ``len(audio)`` samples but whose data is cut to ``keep``."""
    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, subtype="PCM_16", format="WAV")
    data = buf.getvalue()
    drop = int(len(audio) * (1.0 - keep)) * 2  # bytes of 16-bit samples removed from the end
    path.write_bytes(data[: len(data) - drop])


def make_librispeech(root: Path, parts: Optional[Dict[str, Dict[Tuple[str, str], List[str]]]] = None,
                     seconds: float = 0.2) -> Path:
    """Write a tiny LibriSpeech under ``root/LibriSpeech`` and return ``root`` (the corpus dir).

    Utterance ``i`` of a chapter is ``<spk>-<chapter>-<i:04d>``; default parts: :data:`LIBRISPEECH_PARTS`
    (dev-clean: 3 utterances of 2 speakers, test-clean: 2 of 1).
    """
    root = Path(root)
    parts = LIBRISPEECH_PARTS if parts is None else parts
    seed = 0
    for part, chapters in parts.items():
        for (spk, chapter), texts in chapters.items():
            d = root / "LibriSpeech" / part / spk / chapter
            d.mkdir(parents=True, exist_ok=True)
            lines = []
            for i, words in enumerate(texts):
                utt = f"{spk}-{chapter}-{i:04d}"
                sf.write(d / f"{utt}.flac", tone(seconds, 16000, 200 + 20 * seed, seed), 16000, format="FLAC")
                lines.append(f"{utt} {words}\n")
                seed += 1
            (d / f"{spk}-{chapter}.trans.txt").write_text("".join(lines), encoding="utf-8")
    return root


def make_an4(root: Path, sets: Optional[Dict[str, List[Tuple[str, str]]]] = None,
             truncated: Iterable[str] = (), seconds: float = 0.2) -> Path:
    """Write a tiny AN4 in its real layout under ``root`` and return ``root`` (the corpus dir).

    Args:
        root: corpus dir to create.
        sets: ``{"train": [(file id, words)], "test": [...]}``; default :data:`AN4_SETS`
            (train 6 utterances of 3 speakers, test 3 of 2).
        truncated: prepared utterance ids (``fash-an251-b``) or file ids (``an251-fash-b``) whose wav
            is cut to half its data while the header still claims the full length.
        seconds: duration of each wav.
    """
    root = Path(root)
    sets = AN4_SETS if sets is None else sets
    cut = set(truncated)
    (root / "etc").mkdir(parents=True, exist_ok=True)
    seed = 0
    for name, items in sets.items():
        stem, folder = _AN4_DIRS[name]
        trans, fileids = [], []
        for fid, words in items:
            pre, spk, last = fid.split("-")
            rel = f"{folder}/{spk}/{fid}"
            wav = root / "wav" / f"{rel}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            audio = tone(seconds, 16000, 180 + 15 * seed, seed)
            if fid in cut or f"{spk}-{pre}-{last}" in cut:
                write_truncated_wav(wav, audio, 16000)
            else:
                sf.write(wav, audio, 16000, subtype="PCM_16")
            trans.append(f"<s> {words} </s> ({fid})\n" if name == "train" else f"{words} ({fid})\n")
            fileids.append(rel + "\n")
            seed += 1
        (root / "etc" / f"{stem}.transcription").write_text("".join(trans), encoding="utf-8")
        (root / "etc" / f"{stem}.fileids").write_text("".join(fileids), encoding="utf-8")
    (root / "README.md").write_text("Synthetic AN4-layout fixture (tests/dummies_corpora.py).\n", encoding="utf-8")
    return root
