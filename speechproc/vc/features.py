"""Acoustic features of frame-level voice conversion: mel-cepstra, log-F0 statistics, deltas, DTW pairs.

The spectral features are the mel-cepstra of :func:`mel_cepstrum` (an STFT analysis; the
evaluation's MCD is WORLD-based, :mod:`speechproc.score.mcd`): Hann-windowed STFT, the log
amplitude read on the all-pass warped frequency axis and its cosine transform, at 16 kHz with
order 24, ``alpha`` 0.41, FFT 512 and hop 80 (5 ms).
``c_0`` (log energy) is kept aside: the mapping converts ``c_1 .. c_order`` (static, plus deltas
for MLPG), and the differential filter of :mod:`speechproc.vc.convert` keeps the source energy.

Training pairs (:func:`align_pairs`) come from DTW (:func:`speechproc.score.dtw.dtw`) on the
Euclidean distance of ``c_1 .. c_order`` over the speech frames of both utterances (frames whose
``c_0`` lies more than ``silence_db`` below the utterance's loudest frame are left out). Later
iterations align the *converted* source with the target (sprocket's ``jnt_iter``), which pairs
frames by their converted spectra instead of the raw speaker mismatch.

F0 is tracked by :func:`f0_track` (``librosa.pyin``, 20 ms); the speaker's
log-F0 mean and standard deviation over voiced frames define the linear log-F0 transform
``log f0' = mu_t + sigma_t / sigma_s (log f0 - mu_s)``. The waveform path applies its mean part by
pitch shifting (:func:`pitch_shift`).

>>> x = np.arange(5.0)[:, None]
>>> append_deltas(x)[:, 1].tolist()
[0.5, 1.0, 1.0, 1.0, 0.5]
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from speechproc.score.dtw import dtw
from speechproc.utils import SpeechprocError

__all__ = [
    "VCFeatureConfig",
    "F0Stats",
    "extract_mcep",
    "f0_stats",
    "pitch_shift",
    "append_deltas",
    "delta_matrix",
    "speech_mask",
    "warp_frequencies",
    "mcep_to_log_amplitude",
    "align_pairs",
    "WorldParams",
    "world_params",
    "sp_to_mcep",
    "mcep_to_sp",
    "mel_cepstrum",
    "f0_track",
]

logger = logging.getLogger(__name__)


# The STFT mel-cepstrum and pyin F0 of the frame-level VC (its analysis-by-filtering resynthesis needs the
# cosine transform of the log amplitude). Evaluation uses WORLD + SPTK instead: speechproc.score.mcd.
_ALPHA = ((8000, 13, 0.31), (16000, 23, 0.41), (22050, 34, 0.45), (24000, 34, 0.46), (32000, 36, 0.50),
          (44100, 39, 0.53), (48000, 39, 0.55))


def mcep_params(sample_rate: int) -> Tuple[int, float, int, int]:
    """``(order, alpha, n_fft, hop)`` of the mel-cepstral analysis at ``sample_rate``."""
    order, alpha = min(_ALPHA, key=lambda r: abs(r[0] - sample_rate))[1:]
    n_fft = 1024 if sample_rate >= 22050 else 512
    return order, alpha, n_fft, int(round(0.005 * sample_rate))


def _warped_axis(n_bins: int, alpha: float) -> np.ndarray:
    """Linear frequencies (rad) that the all-pass warping maps onto a uniform grid of ``n_bins``."""
    theta = np.linspace(0.0, np.pi, n_bins)
    # inverse all-pass warping: omega = beta_{-alpha}(theta)
    return theta + 2.0 * np.arctan(-alpha * np.sin(theta) / (1.0 + alpha * np.cos(theta)))


def mel_cepstrum(wave: np.ndarray, sample_rate: int, order: Optional[int] = None, alpha: Optional[float] = None,
                 n_fft: Optional[int] = None, hop: Optional[int] = None) -> np.ndarray:
    """Mel-cepstra ``(T, order + 1)`` (``c_0 .. c_order``) of ``wave`` ``(N,)`` (see the module docstring).

    Unset arguments come from :func:`mcep_params`.
    """
    d_order, d_alpha, d_fft, d_hop = mcep_params(sample_rate)
    order = d_order if order is None else int(order)
    alpha = d_alpha if alpha is None else float(alpha)
    n_fft = d_fft if n_fft is None else int(n_fft)
    hop = d_hop if hop is None else int(hop)
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"mel_cepstrum expects a mono waveform (N,), got shape {x.shape}")
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    x = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(n_fft + 2)[1:-1]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    log_amp = 0.5 * np.log(np.maximum(power, 1e-10))  # (T, F)
    n_bins = n_fft // 2 + 1
    omega = np.linspace(0.0, np.pi, n_bins)
    warped = _warped_axis(n_bins, alpha)
    # log-amplitude read on the warped axis: linear interpolation between FFT bins
    pos = np.interp(warped, omega, np.arange(n_bins))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_bins - 1)
    frac = pos - lo
    lw = log_amp[:, lo] * (1.0 - frac) + log_amp[:, hi] * frac  # (T, n_bins) uniform in warped frequency
    # cosine series on [0, pi] (trapezoidal rule): L(theta) = c0 + 2 sum_m c_m cos(m theta)
    theta = np.linspace(0.0, np.pi, n_bins)
    w = np.full(n_bins, 1.0)
    w[0] = w[-1] = 0.5
    basis = np.cos(np.outer(np.arange(order + 1), theta)) * w / (n_bins - 1)  # (order+1, n_bins)
    return lw @ basis.T


F0_DECIMATION = 4  # pyin runs every F0_DECIMATION mel-cepstrum frames (20 ms), for speed


def f0_track(wave: np.ndarray, sample_rate: int, fmin: float = 65.0,
             fmax: float = 600.0) -> Tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, NaN when unvoiced) and voiced flags every ``F0_DECIMATION`` mel-cepstrum frames
    (``librosa.pyin``, frame ``n_fft`` of :func:`mcep_params`); frame ``k`` of the track is
    mel-cepstrum frame ``F0_DECIMATION * k``."""
    import librosa

    _, _, n_fft, hop = mcep_params(sample_rate)
    f0, voiced, _ = librosa.pyin(np.asarray(wave, dtype=np.float32), fmin=fmin, fmax=fmax, sr=sample_rate,
                                 frame_length=n_fft, hop_length=hop * F0_DECIMATION, center=True)
    return f0, voiced.astype(bool)

_NEPER_TO_DB = 20.0 / math.log(10.0)


@dataclass(frozen=True)
class VCFeatureConfig:
    """Analysis settings (see the module docstring).

    Attributes:
        sample_rate: analysis (and output) rate; input audio is resampled to it.
        order: mel-cepstral order (``c_0 .. c_order``; the mapping uses ``c_1 .. c_order``).
        alpha: all-pass warping constant (0.41 at 16 kHz).
        n_fft: STFT size (also the analysis window); hop: frame shift in samples.
        silence_db: frames more than this below the loudest frame are silence (left out of the pairs).
        f0_min, f0_max: F0 search range (Hz).
        analysis: ``stft`` (the STFT mel-cepstrum of :func:`mel_cepstrum`, pyin F0) or ``world``
            (WORLD: DIO + StoneMask F0, CheapTrick envelope, D4C aperiodicity, and SPTK's ``sp2mc``
            mel-cepstrum, as sprocket; needed by the ``world`` vocoder).
    """

    sample_rate: int = 16000
    order: int = 24
    alpha: float = 0.41
    n_fft: int = 512
    hop: int = 80
    silence_db: float = 45.0
    f0_min: float = 65.0
    f0_max: float = 600.0
    analysis: str = "stft"

    def __post_init__(self) -> None:
        if self.order < 1 or self.n_fft < 2 * self.order or self.hop < 1:
            raise SpeechprocError(f"vc features: need order >= 1, n_fft >= 2 * order, hop >= 1; got order {self.order}, "
                                  f"n_fft {self.n_fft}, hop {self.hop}")
        if not -1.0 < self.alpha < 1.0:
            raise SpeechprocError(f"vc features: alpha must be in (-1, 1), got {self.alpha}")
        if self.analysis not in ("stft", "world"):
            raise SpeechprocError(f"vc features: analysis must be stft or world, got '{self.analysis}'")

    def to_dict(self) -> Dict[str, object]:
        """Plain dict (for ``vc.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, object], where: str = "vc feature config") -> "VCFeatureConfig":
        """Build from a dict; unknown keys are an error naming them and ``where``."""
        from speechproc.features.dump import settings_from_dict

        return settings_from_dict(cls, d, where, "vc feature")


@dataclass(frozen=True)
class F0Stats:
    """Log-F0 statistics of one speaker: ``mean`` and ``std`` of ln(F0/Hz) over ``n_voiced`` voiced frames."""

    mean: float
    std: float
    n_voiced: int

    @property
    def mean_hz(self) -> float:
        """Geometric mean F0 (Hz)."""
        return float(math.exp(self.mean))


def _at_rate(wave: np.ndarray, sample_rate: int, cfg: VCFeatureConfig) -> np.ndarray:
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1:
        raise SpeechprocError(f"voice conversion expects mono audio (N,), got shape {x.shape}")
    if sample_rate != cfg.sample_rate:
        from speechproc.data.audio import resample

        x = resample(x, sample_rate, cfg.sample_rate)
    return x


@dataclass
class WorldParams:
    """WORLD analysis of one utterance at ``cfg.hop`` frames: ``f0`` ``(T,)`` (0: unvoiced), ``sp`` power
    envelope and ``ap`` aperiodicity ``(T, fft_size / 2 + 1)``."""

    f0: np.ndarray
    sp: np.ndarray
    ap: np.ndarray

    @property
    def fft_size(self) -> int:
        return 2 * (self.sp.shape[1] - 1)


def world_params(wave: np.ndarray, cfg: VCFeatureConfig, aperiodicity: bool = True) -> WorldParams:
    """WORLD analysis (``pyworld``: DIO + StoneMask, CheapTrick, D4C) of ``wave`` ``(N,)`` at ``cfg.sample_rate``;
    ``T = 1 + N // hop`` frames."""
    import pyworld

    x = np.asarray(wave, dtype=np.float64)
    fs, period = cfg.sample_rate, 1000.0 * cfg.hop / cfg.sample_rate
    f0, t = pyworld.dio(x, fs, f0_floor=cfg.f0_min, f0_ceil=cfg.f0_max, frame_period=period)
    f0 = pyworld.stonemask(x, f0, t, fs)
    sp = pyworld.cheaptrick(x, f0, t, fs, f0_floor=cfg.f0_min)
    ap = pyworld.d4c(x, f0, t, fs) if aperiodicity else np.zeros_like(sp)
    return WorldParams(f0, sp, ap)


def sp_to_mcep(sp: np.ndarray, cfg: VCFeatureConfig) -> np.ndarray:
    """SPTK mel-cepstrum ``(T, order + 1)`` of a WORLD power envelope ``(T, F)`` (``pysptk.sp2mc``)."""
    import pysptk

    return pysptk.sp2mc(np.maximum(sp, 1e-16), order=cfg.order, alpha=cfg.alpha)


def mcep_to_sp(mcep: np.ndarray, cfg: VCFeatureConfig, fft_size: int) -> np.ndarray:
    """Power envelope ``(T, fft_size / 2 + 1)`` of SPTK mel-cepstra ``(T, order + 1)`` (``pysptk.mc2sp``)."""
    import pysptk

    return pysptk.mc2sp(np.ascontiguousarray(mcep, dtype=np.float64), cfg.alpha, fft_size)


def extract_mcep(wave: np.ndarray, cfg: VCFeatureConfig) -> np.ndarray:
    """Mel-cepstra ``(T, order + 1)`` of ``wave`` ``(N,)`` at ``cfg.sample_rate``; ``T = 1 + N // hop``
    (``cfg.analysis``: the STFT analysis, or WORLD + SPTK)."""
    if cfg.analysis == "world":
        return sp_to_mcep(world_params(wave, cfg, aperiodicity=False).sp, cfg)
    return mel_cepstrum(wave, cfg.sample_rate, order=cfg.order, alpha=cfg.alpha, n_fft=cfg.n_fft, hop=cfg.hop)


def f0_stats(waves: Sequence[np.ndarray], cfg: VCFeatureConfig) -> F0Stats:
    """Log-F0 mean and standard deviation over the voiced frames of ``waves`` (each ``(N,)`` at ``cfg.sample_rate``).

    Frames at the ends of the pyin range and frames more than an octave from the median (octave
    errors) are left out, so the statistics describe the speaker's modal voice.
    """
    logs: List[np.ndarray] = []
    for w in waves:
        if cfg.analysis == "world":
            f0 = world_params(w, cfg, aperiodicity=False).f0
            voiced = f0 > 0
        else:
            f0, voiced = f0_track(w, cfg.sample_rate, fmin=cfg.f0_min, fmax=cfg.f0_max)
        # pyin parks creaky and doubtful frames at the ends of the search range: leave those out
        ok = voiced & np.isfinite(f0) & (f0 > 1.02 * cfg.f0_min) & (f0 < 0.98 * cfg.f0_max)
        logs.append(np.log(f0[ok]))
    lf0 = np.concatenate(logs) if logs else np.zeros(0)
    if len(lf0):  # octave errors: keep the frames within one octave of the median
        lf0 = lf0[np.abs(lf0 - np.median(lf0)) < math.log(2.0)]
    if len(lf0) < 2:
        raise SpeechprocError(f"vc: only {len(lf0)} voiced frames in {len(waves)} utterance(s); cannot estimate the "
                              f"speaker's F0 statistics (check the audio, or widen f0_min/f0_max)")
    return F0Stats(float(lf0.mean()), float(lf0.std()), int(len(lf0)))


def pitch_shift(wave: np.ndarray, sample_rate: int, semitones: float) -> np.ndarray:
    """``wave`` ``(N,)`` shifted by ``semitones`` with the same length (``librosa.effects.pitch_shift``:
    phase-vocoder time stretch + resampling, so the spectral envelope moves with the pitch)."""
    if abs(semitones) < 1e-6:
        return np.asarray(wave, dtype=np.float32)
    import librosa

    y = librosa.effects.pitch_shift(np.asarray(wave, dtype=np.float32), sr=sample_rate, n_steps=float(semitones),
                                    n_fft=512, hop_length=128)
    return np.asarray(y, dtype=np.float32)


def append_deltas(x: np.ndarray) -> np.ndarray:
    """Static and delta features ``(T, 2D)`` of ``x`` ``(T, D)``: ``delta_t = (x_{t+1} - x_{t-1}) / 2``
    with the edge frames repeated (the window :func:`delta_matrix` encodes)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 1:
        return np.concatenate([x, np.zeros_like(x)], axis=1)
    padded = np.concatenate([x[:1], x, x[-1:]], axis=0)
    return np.concatenate([x, 0.5 * (padded[2:] - padded[:-2])], axis=1)


def delta_matrix(n: int):
    """Sparse ``(n, n)`` matrix ``D`` with ``D @ x`` = the deltas of :func:`append_deltas` (for MLPG)."""
    import scipy.sparse as sp

    if n == 1:
        return sp.csr_matrix((1, 1))
    rows = np.arange(n)
    prev = np.maximum(rows - 1, 0)
    nxt = np.minimum(rows + 1, n - 1)
    data = np.concatenate([np.full(n, 0.5), np.full(n, -0.5)])
    return sp.csr_matrix((data, (np.concatenate([rows, rows]), np.concatenate([nxt, prev]))), shape=(n, n))


def speech_mask(mcep: np.ndarray, silence_db: float) -> np.ndarray:
    """Speech frames of ``mcep`` ``(T, order + 1)``: ``c_0`` (in dB) within ``silence_db`` of the loudest frame."""
    c0_db = np.asarray(mcep)[:, 0] * _NEPER_TO_DB
    return c0_db >= c0_db.max() - silence_db


def warp_frequencies(n_bins: int, alpha: float) -> np.ndarray:
    """Warped frequencies (rad) of the ``n_bins`` linear FFT bins ``0 .. pi`` (all-pass phase response):
    ``theta = omega + 2 atan(alpha sin omega / (1 - alpha cos omega))``."""
    omega = np.linspace(0.0, np.pi, n_bins)
    return omega + 2.0 * np.arctan(alpha * np.sin(omega) / (1.0 - alpha * np.cos(omega)))


def mcep_to_log_amplitude(mcep: np.ndarray, alpha: float, n_fft: int, first: int = 0) -> np.ndarray:
    """Log amplitude ``(T, n_fft // 2 + 1)`` on the linear FFT bins of mel-cepstra ``c_first .. c_{first + D - 1}``
    ``(T, D)``: ``L(omega) = c_0 + 2 sum_{m >= 1} c_m cos(m theta(omega))`` (the inverse of
    :func:`mel_cepstrum`'s cosine transform, read back on the linear axis).

    With ``first=1`` the input is ``c_1 ..`` only (a log-gain shape without energy).
    """
    c = np.asarray(mcep, dtype=np.float64)
    theta = warp_frequencies(n_fft // 2 + 1, alpha)
    m = np.arange(first, first + c.shape[1])
    basis = 2.0 * np.cos(np.outer(m, theta))  # (D, F)
    if first == 0:
        basis[0] = 1.0
    return c @ basis


def align_pairs(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], src_masks: Sequence[np.ndarray],
                tgt_masks: Sequence[np.ndarray], src_for_dtw: Optional[Sequence[np.ndarray]] = None,
                band: Optional[int] = None) -> Tuple[List[np.ndarray], float]:
    """Frame pairs of parallel utterances by DTW over their speech frames.

    Args:
        src, tgt: per utterance, the static features used for the distance ``(T_s, D)`` / ``(T_t, D)``.
        src_masks, tgt_masks: per utterance, boolean speech-frame masks ``(T_s,)`` / ``(T_t,)``.
        src_for_dtw: per utterance, features of the source to align instead of ``src`` (the converted
            source in later iterations), same frames as ``src``.
        band: optional Sakoe-Chiba half-width (frames).

    Returns:
        ``(pairs, mean distance)``: per utterance an int array ``(K, 2)`` of (source frame, target
        frame) indices into the *full* sequences, and the mean per-frame Euclidean distance along the paths.
    """
    if not (len(src) == len(tgt) == len(src_masks) == len(tgt_masks)):
        raise ValueError("align_pairs: src, tgt and the masks must list the same utterances")
    pairs: List[np.ndarray] = []
    total, frames = 0.0, 0
    for k, (s, t, ms, mt) in enumerate(zip(src, tgt, src_masks, tgt_masks)):
        si, ti = np.flatnonzero(ms), np.flatnonzero(mt)
        if len(si) == 0 or len(ti) == 0:
            si, ti = np.arange(len(s)), np.arange(len(t))
        a = (src_for_dtw[k] if src_for_dtw is not None else s)[si]
        cost, path = dtw(a, t[ti], band=band)
        pairs.append(np.stack([si[path[:, 0]], ti[path[:, 1]]], axis=1))
        total += cost
        frames += len(path)
    return pairs, total / max(frames, 1)
