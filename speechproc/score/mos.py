"""Predicted naturalness (MOS) with DistillMOS, offline on the CPU.

DistillMOS (Stahl & Gamper, 2025; PyPI ``distillmos``, MIT, the weights inside the wheel) is a
compact convolution + transformer model distilled from an XLS-R based speech-quality predictor. It
scores 16 kHz speech on the 1 (bad) .. 5 (excellent) scale of a listening test. The model reads
7.68 s windows (shorter clips are zero-padded to one window, longer ones are scored on overlapping
windows and averaged, as the package does); every clip is peak-normalised first.

:class:`MOSPredictor` scores a list of waveforms in batches: clips up to one window are padded to
it and stacked (the padding is what the model does to a single clip, so a batched score equals the
clip's own score), longer clips go one at a time. :func:`predict_data_dir` scores the ``wav.scp`` of
a data dir (a synthesis dir is one) and :func:`write_mos` stores the per-utterance scores
(``utt2mos``) and their mean; ``speechproc predict_mos`` is the command line.

Natural studio speech scores about 4.3-4.5, Griffin-Lim copy synthesis about 3.2, espeak-ng about 2.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Union

import numpy as np

from speechproc.utils import PathLike, SpeechprocError, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from speechproc.data import DataDir

__all__ = ["MOS_SAMPLE_RATE", "MOSPredictor", "predict_data_dir", "write_mos", "read_mos"]

logger = logging.getLogger(__name__)

MOS_SAMPLE_RATE = 16000
MIN_SECONDS = 0.1


class MOSPredictor:
    """DistillMOS: ``predictor(waves, sample_rate) -> (N,) predicted MOS``.

    Args:
        batch_size: clips per forward pass (each is one 7.68-s window).
        device: torch device.
    """

    def __init__(self, batch_size: int = 8, device: str = "cpu") -> None:
        try:
            import distillmos
        except ImportError as e:  # pragma: no cover - installed by tools/install.sh
            raise SpeechprocError("the MOS predictor needs the 'distillmos' package: bash tools/install.sh "
                                  "(or pip install distillmos xls-r-sqa)") from e
        import torch

        with contextlib.redirect_stdout(io.StringIO()):  # the package prints where it loaded its weights from
            self.model = distillmos.ConvTransformerSQAModel().to(device).eval()
        from distillmos.sqa import SEQ_LEN

        self.window = int(SEQ_LEN)
        self.batch_size = max(1, int(batch_size))
        self.device = device
        self._torch = torch

    def _prepare(self, wave: np.ndarray, sample_rate: int, what: str) -> np.ndarray:
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim == 2 and 1 in x.shape:
            x = x.reshape(-1)
        if x.ndim != 1:
            raise SpeechprocError(f"{what}: expected mono audio (N,), got shape {x.shape}; take one channel first")
        if len(x) < MIN_SECONDS * sample_rate:
            raise SpeechprocError(f"{what}: {len(x)} samples ({len(x) / sample_rate:.3f} s) is too short to rate; "
                                  f"the MOS predictor needs at least {MIN_SECONDS} s of audio")
        if not np.isfinite(x).all():
            raise SpeechprocError(f"{what}: the audio holds NaN or inf samples")
        if float(np.abs(x).max()) < 1e-6:
            raise SpeechprocError(f"{what}: the audio is silent (peak < 1e-6); a silent clip has no naturalness to "
                                  f"rate: check the synthesis that wrote it")
        if sample_rate != MOS_SAMPLE_RATE:
            from speechproc.data.audio import resample

            x = np.asarray(resample(x, sample_rate, MOS_SAMPLE_RATE), dtype=np.float32)
        return x

    def __call__(self, waves: Sequence[np.ndarray], sample_rate: int | Sequence[int],
                 names: Optional[Sequence[str]] = None) -> np.ndarray:
        """Predicted MOS of each waveform (``(N,)`` float), in the order given."""
        torch = self._torch
        rates = [int(sample_rate)] * len(waves) if isinstance(sample_rate, (int, np.integer)) else list(sample_rate)
        if len(rates) != len(waves):
            raise SpeechprocError(f"MOSPredictor: {len(waves)} waveforms but {len(rates)} sample rates")
        names = list(names) if names is not None else [f"clip {i}" for i in range(len(waves))]
        clips = [self._prepare(w, r, n) for w, r, n in zip(waves, rates, names)]
        scores = np.zeros(len(clips), dtype=np.float64)
        short = [i for i, c in enumerate(clips) if len(c) <= self.window]
        with torch.no_grad():
            for s in range(0, len(short), self.batch_size):
                idx = short[s:s + self.batch_size]
                batch = np.zeros((len(idx), self.window), dtype=np.float32)
                for k, i in enumerate(idx):
                    batch[k, : len(clips[i])] = clips[i]
                out = self.model(torch.from_numpy(batch).to(self.device))
                scores[idx] = out.reshape(-1).cpu().numpy()
            for i, c in enumerate(clips):
                if len(c) > self.window:
                    scores[i] = float(self.model(torch.from_numpy(c)[None].to(self.device)).reshape(-1)[0])
        return scores


def predict_data_dir(data_dir: Union[PathLike, "DataDir"], predictor: Optional[MOSPredictor] = None,
                     utts: Optional[Sequence[str]] = None, name: Optional[str] = None) -> Dict[str, float]:
    """``{utt: predicted MOS}`` of the audio of a data dir (a path or a loaded
    :class:`~speechproc.data.DataDir`; ``utts``: a subset, in that order; ``name``: the dir in messages)."""
    from speechproc.data import DataDir

    data = data_dir if isinstance(data_dir, DataDir) else DataDir.load(data_dir)
    data_dir = name or data_dir
    utts = list(utts) if utts is not None else list(data.utts)
    if not utts:
        raise SpeechprocError(f"{data_dir}/wav.scp: no utterance to rate")
    predictor = predictor or MOSPredictor()
    waves, rates = [], []
    for u in utts:
        w, sr = data.load_audio(u)
        waves.append(w)
        rates.append(sr)
    scores = predictor(waves, rates, names=[f"{data_dir}/wav.scp: {u}" for u in utts])
    return {u: float(s) for u, s in zip(utts, scores)}


def write_mos(scores: Dict[str, float], out_file: PathLike) -> float:
    """Write ``utt2mos`` (``utt score`` lines, C-sorted) and return the mean."""
    if not scores:
        raise SpeechprocError(f"{out_file}: no scores to write")
    lines = "".join(f"{u} {scores[u]:.4f}\n" for u in sorted(scores))
    atomic_write_text(Path(out_file), lines)
    return float(np.mean(list(scores.values())))


def read_mos(path: PathLike) -> Dict[str, float]:
    """Read an ``utt2mos`` file written by :func:`write_mos`."""
    out: Dict[str, float] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts: List[str] = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise SpeechprocError(f"{path}:{n}: expected 'utt score', got {line!r}")
        try:
            out[parts[0]] = float(parts[1])
        except ValueError as e:
            raise SpeechprocError(f"{path}:{n}: score {parts[1]!r} is not a number") from e
    return out
