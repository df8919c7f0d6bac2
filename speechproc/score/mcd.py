"""Mel-cepstral distortion and F0 errors as ESPnet and sprocket compute them (WORLD + SPTK).

**Analysis** (both signals at the reference's sample rate; the synthesized one is resampled):
WORLD (``pyworld``) ``harvest`` F0 (50-600 Hz, 5 ms frames) and ``cheaptrick`` spectral envelope,
then the mel-cepstrum ``c_0 .. c_order`` of that envelope with SPTK's ``sp2mc`` (``pysptk``):
order 24 at 16 kHz with all-pass constant ``alpha`` 0.42 (the VCC/sprocket setting), and at other
rates order 34 with ``alpha = pysptk.util.mcepalpha(fs)`` (0.455 at 22.05 kHz, 0.466 at 24 kHz).

**MCD** (dB): ``c_0`` (energy) is excluded from the alignment and the distance. The frames are
aligned by DTW (``librosa.sequence.dtw``, Euclidean distance on ``c_1 .. c_order``), and along the
path (synthesized first, reference second)

    MCD = mean over path of (10 / ln 10) * sqrt(2 * sum_{d=1..order} (c_d^syn - c_d^ref)^2).

The corpus figure is the mean of the per-utterance MCDs.

**F0** on the same path, over the frames voiced in both: log-F0 RMSE (natural log; 0.1 is about
173 cents) and the Pearson correlation of F0; the voicing decision error (VDE) is the share of
path frames whose voiced/unvoiced flags differ.

>>> import numpy as np
>>> t = np.arange(16000) / 16000.0
>>> x = 0.3 * np.sin(2 * np.pi * 150.0 * t)
>>> round(float(np.median(world_analysis(x, 16000).f0[20:-20])))
150
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from speechproc.utils import SpeechprocError

__all__ = ["FRAME_PERIOD_MS", "mcep_params", "WorldFeatures", "world_analysis", "MCDResult", "mcd", "F0Result",
           "f0_metrics"]

MCD_CONST = 10.0 / math.log(10.0) * math.sqrt(2.0)
FRAME_PERIOD_MS = 5.0
F0_FLOOR, F0_CEIL = 50.0, 600.0


def mcep_params(sample_rate: int) -> Tuple[int, float]:
    """``(order, alpha)`` of the mel-cepstral analysis at ``sample_rate``."""
    if sample_rate == 16000:
        return 24, 0.42
    import pysptk

    return 34, float(pysptk.util.mcepalpha(sample_rate))


@dataclass
class WorldFeatures:
    """WORLD analysis of one signal: ``f0`` ``(T,)`` (Hz, 0 when unvoiced) and ``mcep`` ``(T, order + 1)``."""

    f0: np.ndarray
    mcep: np.ndarray
    sample_rate: int


def _check(wave: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise SpeechprocError(f"{what}: expected a mono waveform (N,), got shape {x.shape}; take one channel first")
    if len(x) == 0:
        raise SpeechprocError(f"{what}: empty waveform (0 samples); nothing to analyse")
    if not np.isfinite(x).all():
        raise SpeechprocError(f"{what}: the waveform holds NaN or inf samples")
    return x


def world_analysis(wave: np.ndarray, sample_rate: int, order: Optional[int] = None,
                   alpha: Optional[float] = None, what: str = "waveform") -> WorldFeatures:
    """WORLD F0 + SPTK mel-cepstrum of ``wave`` ``(N,)`` (see the module docstring for the settings)."""
    import pysptk
    import pyworld

    x = _check(wave, what)
    d_order, d_alpha = mcep_params(sample_rate)
    order = d_order if order is None else int(order)
    alpha = d_alpha if alpha is None else float(alpha)
    min_len = int(0.05 * sample_rate)  # harvest needs a few frames: pad very short signals with silence
    if len(x) < min_len:
        x = np.pad(x, (0, min_len - len(x)))
    f0, t = pyworld.dio(x, sample_rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(x, f0, t, sample_rate)
    sp = pyworld.cheaptrick(x, f0, t, sample_rate)
    mcep = pysptk.sp2mc(np.maximum(sp, 1e-16), order=order, alpha=alpha)
    return WorldFeatures(f0, mcep, sample_rate)


def _as_rate(wave: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return np.asarray(wave, dtype=np.float64)
    from speechproc.data.audio import resample

    return np.asarray(resample(np.asarray(wave, dtype=np.float32), sr, target), dtype=np.float64)


@dataclass
class MCDResult:
    """MCD of one utterance pair: ``mcd`` (dB), frame counts, the DTW ``path`` ``(K, 2)`` and both analyses."""

    mcd: float
    frames_syn: int
    frames_ref: int
    path: np.ndarray
    syn: WorldFeatures
    ref: WorldFeatures


def mcd(syn: np.ndarray, ref: np.ndarray, sample_rate: int, ref_rate: Optional[int] = None) -> MCDResult:
    """Mel-cepstral distortion (dB) of ``syn`` against ``ref`` after DTW on ``c_1 .. c_order``.

    Args:
        syn: synthesized waveform ``(N,)`` at ``sample_rate``.
        ref: natural waveform ``(M,)`` at ``ref_rate`` (default ``sample_rate``); the analysis runs at
            ``ref_rate``.
    """
    import librosa

    ref_rate = int(ref_rate or sample_rate)
    a = world_analysis(_as_rate(_check(syn, "synthesized waveform"), sample_rate, ref_rate), ref_rate,
                       what="synthesized waveform")
    b = world_analysis(ref, ref_rate, what="reference waveform")
    x, y = a.mcep[:, 1:], b.mcep[:, 1:]
    _, wp = librosa.sequence.dtw(X=x.T, Y=y.T, metric="euclidean")
    path = np.ascontiguousarray(wp[::-1])
    diff = x[path[:, 0]] - y[path[:, 1]]
    per_frame = MCD_CONST * np.sqrt((diff * diff).sum(axis=1))
    return MCDResult(float(per_frame.mean()), len(x), len(y), path, a, b)


@dataclass
class F0Result:
    """F0 comparison along an alignment: ``log_f0_rmse`` (natural log), ``corr`` (Pearson), ``vde`` (0-1),
    ``n_voiced`` (frames voiced in both)."""

    log_f0_rmse: float
    corr: float
    vde: float
    n_voiced: int


def f0_metrics(result: MCDResult) -> F0Result:
    """Log-F0 RMSE, F0 correlation and voicing decision error along the DTW path of :func:`mcd`."""
    f_syn = result.syn.f0[result.path[:, 0]]
    f_ref = result.ref.f0[result.path[:, 1]]
    v_syn, v_ref = f_syn > 0, f_ref > 0
    vde = float(np.mean(v_syn != v_ref))
    both = v_syn & v_ref
    n = int(both.sum())
    if n < 2:
        return F0Result(float("nan"), float("nan"), vde, n)
    a, b = f_syn[both], f_ref[both]
    rmse = float(np.sqrt(np.mean((np.log(a) - np.log(b)) ** 2)))
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return F0Result(rmse, corr, vde, n)
