"""Frame-level F0 of a mel dump, the pitch target of FastSpeech 2 (Ren et al., 2021).

WORLD's DIO + StoneMask (``pyworld``) at the mel's own hop, so frame ``i`` of the pitch is frame ``i`` of the
mel (``T = 1 + len(wave) // hop``, centred frames): F0 in Hz, 0 where unvoiced. A mel dump dir gains

- ``pitch/<utt>.npy`` (float32 ``(T,)``) and ``pitch.scp``;
- ``pitch_stats.json``: mean and standard deviation of the log-F0 of its voiced frames (the training set's
  normalise every set, as the CMVN statistics do for the mel).

The model sees :func:`normalize_pitch`: ``(log F0 - mean) / std`` on voiced frames, 0 on unvoiced ones, and
averages it over each token's voiced frames (SpeechBrain's ``average_over_durations`` skips zeros), as FastPitch
and ESPnet's token-averaged pitch do.
"""
from __future__ import annotations

import json
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from speechproc.utils import PathLike, SpeechprocError, atomic_write_text

logger = logging.getLogger(__name__)

__all__ = ["F0_FLOOR", "F0_CEIL", "world_f0", "frame_f0", "dump_pitch", "load_pitch_stats", "normalize_pitch", "read_pitch_scp"]

F0_FLOOR, F0_CEIL = 50.0, 600.0


def world_f0(wave: np.ndarray, sample_rate: int, frame_period_ms: float, n_frames: int, f0_floor: float = F0_FLOOR,
             f0_ceil: float = F0_CEIL) -> np.ndarray:
    """WORLD DIO + StoneMask F0 (Hz, float64, 0 unvoiced) every ``frame_period_ms``, zero-padded or cut to exactly
    ``n_frames`` values: the frame-level F0 of the pitch dumps here and of the content features
    (:func:`speechproc.features.content.log_f0_track`)."""
    import pyworld

    x = np.ascontiguousarray(wave, dtype=np.float64)
    f0, t = pyworld.dio(x, sample_rate, f0_floor=f0_floor, f0_ceil=f0_ceil, frame_period=frame_period_ms)
    f0 = pyworld.stonemask(x, f0, t, sample_rate)
    if len(f0) < n_frames:
        f0 = np.pad(f0, (0, n_frames - len(f0)))
    return f0[:n_frames]


def frame_f0(wave: np.ndarray, sample_rate: int, hop_length: int, n_frames: int) -> np.ndarray:
    """F0 (Hz, float32, 0 unvoiced) of ``wave`` at every ``hop_length`` samples, exactly ``n_frames`` values."""
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise SpeechprocError(f"frame_f0: expected a non-empty mono waveform, got shape {x.shape}")
    return world_f0(x, sample_rate, 1000.0 * hop_length / sample_rate, n_frames).astype(np.float32)


def _pitch_part(data_dir: str, dump_dir: str, utts: List[str], sample_rate: int, hop: int,
                frames: Dict[str, int]) -> Tuple[float, float, int]:
    """Write the pitch of ``utts``; return the sums of log-F0, its square, and the voiced frame count."""
    from speechproc.data.datadir import DataDir

    data = DataDir.load(data_dir)
    s = s2 = 0.0
    n = 0
    for utt in utts:
        wave, _ = data.load_audio(utt, sample_rate=sample_rate)
        f0 = frame_f0(wave, sample_rate, hop, frames[utt])
        np.save(Path(dump_dir) / "pitch" / f"{utt}.npy", f0)
        logf0 = np.log(f0[f0 > 0].astype(np.float64))
        s, s2, n = s + float(logf0.sum()), s2 + float((logf0 ** 2).sum()), n + int(logf0.size)
    return s, s2, n


def dump_pitch(data_dir: PathLike, dump_dir: PathLike, nj: int = 1) -> Dict[str, float]:
    """Add the frame-level F0 of every utterance of the mel dump ``dump_dir`` (audio from ``data_dir``) and its
    ``pitch_stats.json``; returns those statistics. The mel settings (rate, hop) come from ``dump_dir/mel.json``."""
    from speechproc.features.fbank import FeatureStore
    from speechproc.features.mel import load_mel_config

    dump_dir = Path(dump_dir).absolute()
    if not (dump_dir / "mel.json").is_file():
        raise SpeechprocError(f"{dump_dir}: no mel.json; pitch is added to a mel dump (compute_mel) of {data_dir}")
    config = load_mel_config(dump_dir)
    store = FeatureStore(dump_dir)
    utts = list(store.utts)
    frames = {u: store.num_frames(u) for u in utts}
    (dump_dir / "pitch").mkdir(exist_ok=True)
    nj = max(1, min(int(nj), len(utts)))
    if nj == 1:
        parts = [_pitch_part(str(data_dir), str(dump_dir), utts, config.sample_rate, config.hop_length, frames)]
    else:
        with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_pitch_part, str(data_dir), str(dump_dir), utts[i::nj], config.sample_rate,
                                   config.hop_length, frames) for i in range(nj)]
            parts = [f.result() for f in futures]
    s, s2, n = (sum(p[k] for p in parts) for k in range(3))
    if n == 0:
        raise SpeechprocError(f"{dump_dir}: no voiced frame in any utterance; is {data_dir} speech?")
    mean = s / n
    stats = {"log_f0_mean": round(mean, 6), "log_f0_std": round(max(s2 / n - mean ** 2, 1e-8) ** 0.5, 6),
             "voiced_frames": int(n), "frames": int(sum(frames.values())), "f0_floor": F0_FLOOR,
             "f0_ceil": F0_CEIL, "hop_length": config.hop_length, "sample_rate": config.sample_rate}
    atomic_write_text(dump_dir / "pitch.scp", "".join(f"{u} {dump_dir / 'pitch' / (u + '.npy')}\n" for u in utts))
    atomic_write_text(dump_dir / "pitch_stats.json", json.dumps(stats, indent=2) + "\n")
    logger.info("%s: pitch of %d utterances, %.1f %% of %d frames voiced, log-F0 mean %.3f (%.0f Hz) std %.3f",
                dump_dir, len(utts), 100.0 * n / max(stats["frames"], 1), stats["frames"], mean, np.exp(mean),
                stats["log_f0_std"])
    return stats


def read_pitch_scp(dump_dir: PathLike) -> Dict[str, str]:
    """``{utt: path}`` of ``dump_dir/pitch.scp``; a dump without pitch is an error naming the fix."""
    path = Path(dump_dir) / "pitch.scp"
    if not path.is_file():
        raise SpeechprocError(f"{path} not found: the FastSpeech 2 pitch target needs 'compute_mel --pitch' (or "
                              f"'compute_pitch') on {dump_dir}")
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            utt, p = line.split(maxsplit=1)
            out[utt] = p
    return out


def load_pitch_stats(path: PathLike) -> Tuple[float, float]:
    """(mean, std) of the log-F0 in a ``pitch_stats.json`` (or the one of a dump dir)."""
    path = Path(path)
    path = path / "pitch_stats.json" if path.is_dir() else path
    if not path.is_file():
        raise SpeechprocError(f"{path} not found: run 'compute_mel --pitch' on the training dump")
    stats = json.loads(path.read_text(encoding="utf-8"))
    try:
        return float(stats["log_f0_mean"]), float(stats["log_f0_std"])
    except KeyError as e:
        raise SpeechprocError(f"{path}: no {e} entry; re-run 'compute_mel --pitch'") from e


def normalize_pitch(f0: np.ndarray, mean: float, std: float) -> np.ndarray:
    """``(log F0 - mean) / std`` on voiced frames, 0 on unvoiced frames (float32)."""
    f0 = np.asarray(f0, dtype=np.float64)
    out = np.zeros(f0.shape, dtype=np.float32)
    voiced = f0 > 0
    out[voiced] = (np.log(f0[voiced]) - mean) / std
    out[voiced & (out == 0)] = 1e-6  # a voiced frame exactly at the mean must not read as unvoiced
    return out
