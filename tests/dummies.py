"""Synthetic test objects: audio files and Kaldi data dirs (import as ``from dummies import ...``).

Everything is deterministic: the same arguments give byte-identical files.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import soundfile as sf

from speechproc.data.datadir import DataDir, Segment

__all__ = ["WORDS", "tone", "write_wav", "make_datadir", "utt_id", "spk_id"]

#: Vocabulary of the synthetic transcripts.
WORDS = ("HELLO", "WORLD", "YES", "NO", "SPEECH", "DATA", "ONE", "TWO", "THREE", "FOUR")


def tone(
    seconds: float, sample_rate: int, channels: int = 1, freq: float = 440.0, amplitude: float = 0.5
) -> np.ndarray:
    """A sine tone: float32 ``(T,)`` for mono, ``(T, channels)`` otherwise (channel c at ``freq * (c + 1)``)."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    chans = [amplitude * np.sin(2 * np.pi * freq * (c + 1) * t) for c in range(channels)]
    data = np.stack(chans, axis=1) if channels > 1 else chans[0]
    return data.astype(np.float32)


def write_wav(
    path: Union[str, Path],
    seconds: float,
    sample_rate: int,
    channels: int = 1,
    freq: float = 440.0,
    format: Optional[str] = None,
    subtype: str = "PCM_16",
) -> np.ndarray:
    """Write a sine tone to ``path`` and return the samples written (see :func:`tone`).

    ``format`` is a soundfile format ("WAV", "FLAC", "NIST", ...); default from the extension.
    The returned array is the float signal before 16-bit quantisation.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tone(seconds, sample_rate, channels, freq)
    sf.write(str(path), data, sample_rate, format=format, subtype=subtype)
    return data


def spk_id(s: int) -> str:
    """Speaker id of speaker number ``s`` (0-based): ``spk1``, ``spk2``, ..."""
    return f"spk{s + 1}"


def utt_id(s: int, i: int) -> str:
    """Utterance id of utterance ``i`` of speaker ``s`` (0-based): ``spk1-utt001``."""
    return f"{spk_id(s)}-utt{i + 1:03d}"


def make_datadir(
    tmp_path: Union[str, Path],
    n_utts: int = 6,
    n_spk: int = 2,
    sample_rate: int = 16000,
    seconds: Union[float, Sequence[float]] = (0.3, 0.4, 0.5),
    with_text: bool = True,
    with_utt2dur: bool = True,
    with_segments: bool = False,
    channels: int = 1,
    name: str = "data",
    save: bool = True,
) -> DataDir:
    """A valid data dir of sine-tone utterances, saved as ``tmp_path/<name>`` (audio in ``tmp_path/wav``).

    Utterances are dealt to speakers round-robin (``spk1-utt001``, ``spk2-utt001``, ...); the
    k-th utterance lasts ``seconds[k % len(seconds)]`` s at 200 + 50 k Hz; transcripts are
    words of :data:`WORDS`. With ``with_segments`` each speaker has one recording
    ``<spk>-rec`` holding its utterances back to back, with 0.1 s gaps.

    Returns:
        the :class:`DataDir`, with ``.source`` set to the saved dir (None when ``save`` is False).
    """
    tmp_path = Path(tmp_path)
    durs = [float(seconds)] * n_utts if isinstance(seconds, (int, float)) else [
        float(seconds[k % len(seconds)]) for k in range(n_utts)
    ]
    per_spk = [[] for _ in range(n_spk)]  # type: ignore[var-annotated]
    for k in range(n_utts):
        per_spk[k % n_spk].append(k)
    wav_dir = tmp_path / "wav"
    utt2spk, text, utt2dur, wav_scp, segments = {}, {}, {}, {}, {}
    for s, ks in enumerate(per_spk):
        spk = spk_id(s)
        pieces = []
        t = 0.0
        for i, k in enumerate(ks):
            utt = utt_id(s, i)
            utt2spk[utt] = spk
            text[utt] = " ".join(WORDS[(k + j) % len(WORDS)] for j in range(1 + k % 3))
            utt2dur[utt] = durs[k]
            if with_segments:
                sig = tone(durs[k], sample_rate, channels, 200.0 + 50 * k)
                gap = np.zeros((int(0.1 * sample_rate),) + sig.shape[1:], dtype=np.float32)
                segments[utt] = Segment(f"{spk}-rec", round(t, 6), round(t + durs[k], 6))
                pieces += [sig, gap]
                t += durs[k] + 0.1
            else:
                path = wav_dir / f"{utt}.wav"
                write_wav(path, durs[k], sample_rate, channels, 200.0 + 50 * k)
                wav_scp[utt] = str(path)
        if with_segments and pieces:
            path = wav_dir / f"{spk}-rec.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), np.concatenate(pieces), sample_rate, subtype="PCM_16")
            wav_scp[f"{spk}-rec"] = str(path)
    data = DataDir(
        wav_scp=wav_scp,
        utt2spk=utt2spk,
        text=text if with_text else None,
        segments=segments if with_segments else None,
        utt2dur=utt2dur if with_utt2dur else None,
    )
    if not save:
        return data
    out = tmp_path / name
    data.save(out)
    return DataDir.load(out)
