"""Global cepstral mean and variance normalisation (CMVN).

:class:`CMVNStats` accumulates per-dimension ``sum``, ``sum_sq`` and frame ``count`` (float64)
over a dump dir or a data dir (:func:`compute_cmvn_stats`, verb ``compute_cmvn_stats``) and saves
them as a small ``.npz`` file with the arrays ``sum`` ``(D,)``, ``sum_sq`` ``(D,)``, ``count``
``()``, and for convenience ``mean`` and ``std`` ``(D,)``. :class:`GlobalCMVN` applies
``(x - mean) / std`` inside a model and keeps padded frames at zero.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Tuple, Union

import numpy as np
import torch

from speechproc.data.datadir import DataDir
from speechproc.features.fbank import FbankConfig, FeatureStore, compute_fbank
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["CMVNStats", "GlobalCMVN", "compute_cmvn_stats", "write_cmvn_stats", "load_cmvn_stats"]

logger = logging.getLogger(__name__)



@dataclass
class CMVNStats:
    """Running per-dimension statistics of feature frames.

    Attributes:
        sum: ``(D,)`` float64 sum of frames.
        sum_sq: ``(D,)`` float64 sum of squared frames.
        count: number of frames.
    """

    sum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sum_sq: np.ndarray = field(default_factory=lambda: np.zeros(0))
    count: int = 0

    @property
    def dim(self) -> int:
        """Feature dimension (0 before the first frames)."""
        return int(self.sum.shape[0])

    def accumulate(self, feats: Union[np.ndarray, torch.Tensor]) -> "CMVNStats":
        """Add frames ``(T, D)`` (returns self)."""
        x = feats.detach().cpu().numpy() if isinstance(feats, torch.Tensor) else np.asarray(feats)
        if x.ndim != 2:
            raise ValueError(f"CMVNStats.accumulate expects (T, D) frames, got shape {x.shape}")
        x = x.astype(np.float64, copy=False)
        if self.count == 0 and self.dim == 0:
            self.sum = np.zeros(x.shape[1])
            self.sum_sq = np.zeros(x.shape[1])
        if x.shape[1] != self.dim:
            raise SpeechprocError(f"feature dimension {x.shape[1]} differs from {self.dim} seen before; "
                                  f"every utterance must use the same features")
        self.sum += x.sum(axis=0)
        self.sum_sq += np.square(x).sum(axis=0)
        self.count += int(x.shape[0])
        return self

    def merge(self, other: "CMVNStats") -> "CMVNStats":
        """Statistics of both sets of frames (a new object)."""
        if self.count == 0:
            return CMVNStats(other.sum.copy(), other.sum_sq.copy(), other.count)
        if other.count == 0:
            return CMVNStats(self.sum.copy(), self.sum_sq.copy(), self.count)
        if other.dim != self.dim:
            raise SpeechprocError(f"cannot merge CMVN stats of dimension {self.dim} and {other.dim}")
        return CMVNStats(self.sum + other.sum, self.sum_sq + other.sum_sq, self.count + other.count)

    @property
    def mean(self) -> np.ndarray:
        """``(D,)`` mean."""
        self._check()
        return self.sum / self.count

    def std(self, var_floor: float = 1e-10) -> np.ndarray:
        """``(D,)`` standard deviation (population), variance floored at ``var_floor``."""
        self._check()
        var = self.sum_sq / self.count - np.square(self.mean)
        return np.sqrt(np.maximum(var, var_floor))

    def _check(self) -> None:
        if self.count == 0:
            raise SpeechprocError("CMVN stats are empty (0 frames); compute them on a non-empty dump dir")

    def save(self, path: PathLike) -> None:
        """Write the ``.npz`` file atomically (the name is used as given)."""
        self._check()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, sum=self.sum, sum_sq=self.sum_sq, count=np.int64(self.count),
                         mean=self.mean, std=self.std())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()

    @classmethod
    def load(cls, path: PathLike) -> "CMVNStats":
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise SpeechprocError(f"{path}: CMVN stats not found; create them with 'speechproc compute_cmvn_stats'")
        try:
            with np.load(path) as z:
                return cls(z["sum"].astype(np.float64), z["sum_sq"].astype(np.float64), int(z["count"]))
        except (OSError, ValueError, KeyError) as e:
            raise SpeechprocError(
                f"{path}: not a CMVN stats file ({e}); re-run 'speechproc compute_cmvn_stats'"
            ) from None


def load_cmvn_stats(path: PathLike) -> CMVNStats:
    """Read CMVN stats written by :meth:`CMVNStats.save`."""
    return CMVNStats.load(path)


def _frames_of_data_dir(path: Path, config: FbankConfig) -> Iterable[np.ndarray]:
    data = DataDir.load(path)
    for utt in data.utts:
        wave, _ = data.load_audio(utt, sample_rate=config.sample_rate)
        feats = compute_fbank(wave, config)
        if feats.shape[0]:
            yield feats.numpy()


def compute_cmvn_stats(path: PathLike, config: Optional[FbankConfig] = None) -> CMVNStats:
    """Global CMVN statistics of a dump dir (its ``feats.scp``) or a data dir (fbank on the fly).

    Args:
        path: a dump dir written by :func:`~speechproc.features.fbank.dump_fbank`, or a data dir.
        config: fbank settings for a data dir (default :class:`FbankConfig`); ignored for a dump dir.

    Returns:
        the accumulated :class:`CMVNStats`.
    """
    path = Path(path)
    stats = CMVNStats()
    start = time.perf_counter()
    if (path / "feats.scp").is_file():
        store = FeatureStore(path, mmap=True)
        frames: Iterable[np.ndarray] = (store[u] for u in store.utts)
        source = "feats.scp"
    elif (path / "wav.scp").is_file():
        frames = _frames_of_data_dir(path, config or FbankConfig())
        source = "wav.scp (fbank on the fly)"
    else:
        raise SpeechprocError(f"{path}: neither a dump dir (feats.scp) nor a data dir (wav.scp)")
    for x in frames:
        stats.accumulate(x)
    stats._check()
    logger.info("CMVN stats of %s from %s: %d frames, dim %d, in %.1f s",
                path, source, stats.count, stats.dim, time.perf_counter() - start)
    return stats


def write_cmvn_stats(path: PathLike, out_file: PathLike, config: Optional[FbankConfig] = None) -> CMVNStats:
    """:func:`compute_cmvn_stats` of ``path`` saved to ``out_file`` (``.npz``); returns them."""
    stats = compute_cmvn_stats(path, config)
    stats.save(out_file)
    logger.info("wrote CMVN stats of %s (%d frames, dim %d) to %s", path, stats.count, stats.dim, out_file)
    return stats


class GlobalCMVN(torch.nn.Module):
    """Apply ``(x - mean) / std`` with fixed global statistics; padded frames stay zero.

    Args:
        mean: ``(D,)`` mean.
        std: ``(D,)`` standard deviation (must be positive).
        norm_means: subtract the mean.
        norm_vars: divide by the standard deviation.
    """

    def __init__(
        self,
        mean: Union[np.ndarray, torch.Tensor],
        std: Union[np.ndarray, torch.Tensor],
        norm_means: bool = True,
        norm_vars: bool = True,
    ) -> None:
        super().__init__()
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32))
        if mean_t.dim() != 1 or mean_t.shape != std_t.shape:
            raise ValueError(f"mean and std must both be (D,), got {tuple(mean_t.shape)} and {tuple(std_t.shape)}")
        if not bool((std_t > 0).all()):
            raise ValueError("std must be positive in every dimension")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)
        self.norm_means = norm_means
        self.norm_vars = norm_vars

    @classmethod
    def from_stats(cls, stats: Union[CMVNStats, PathLike], var_floor: float = 1e-10, **kwargs) -> "GlobalCMVN":
        """Build from :class:`CMVNStats` or the path of a stats file."""
        if not isinstance(stats, CMVNStats):
            stats = CMVNStats.load(stats)
        return cls(stats.mean, stats.std(var_floor), **kwargs)

    def forward(
        self, x: torch.Tensor, lengths: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Normalise features.

        Args:
            x: ``(B, T, D)`` features.
            lengths: ``(B,)`` valid frames: integer counts, or fractions of ``T`` (floating);
                None means no padding.

        Returns:
            ``(y, lengths)``: ``y`` ``(B, T, D)`` normalised, frames past each length set to zero;
            ``lengths`` returned unchanged.
        """
        y = x
        if self.norm_means:
            y = y - self.mean
        if self.norm_vars:
            y = y / self.std
        if lengths is not None:
            T = x.shape[1]
            n = torch.round(lengths * T).long() if lengths.is_floating_point() else lengths.long()
            mask = torch.arange(T, device=x.device)[None, :] < n.to(x.device)[:, None]
            y = y.masked_fill(~mask[..., None], 0.0)
        return y, lengths

    def extra_repr(self) -> str:
        return f"dim={self.mean.shape[0]}, norm_means={self.norm_means}, norm_vars={self.norm_vars}"
