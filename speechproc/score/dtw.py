"""Dynamic time warping between two feature sequences (the frame pairing of the frame-level voice conversion;
the evaluation uses librosa's DTW, :mod:`speechproc.score.mcd`).

:func:`dtw` aligns ``x`` ``(N, D)`` with ``y`` ``(M, D)`` by the symmetric step pattern
``(1, 1)``, ``(1, 0)``, ``(0, 1)`` with unit weights on a frame-distance matrix (Euclidean by
default), optionally inside a Sakoe-Chiba band, and returns the accumulated cost and the warping
path: a ``(K, 2)`` int array of index pairs from ``(0, 0)`` to ``(N - 1, M - 1)``, monotone in both
columns, each step advancing one or both indices by one.

>>> x = np.arange(4.0)[:, None]; y = np.array([0.0, 1, 1, 2, 3])[:, None]
>>> cost, path = dtw(x, y)
>>> cost, path.tolist()
(0.0, [[0, 0], [1, 1], [1, 2], [2, 3], [3, 4]])
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["distance_matrix", "dtw"]

try:  # numba ships with librosa; the pure-Python loop is a slow fallback
    from numba import njit
except ImportError:  # pragma: no cover
    def njit(*args, **kwargs):  # type: ignore[no-redef]
        def wrap(f):
            return f
        return wrap(args[0]) if args and callable(args[0]) else wrap


def distance_matrix(x: np.ndarray, y: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """Frame distances ``(N, M)`` between ``x`` ``(N, D)`` and ``y`` ``(M, D)``: ``euclidean``,
    ``sqeuclidean`` or ``cosine`` (``1 - cos``)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"dtw: feature dimensions differ: x has {x.shape[1]}, y has {y.shape[1]}")
    if metric in ("euclidean", "sqeuclidean"):
        d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
        d2 = np.maximum(d2, 0.0)
        return np.sqrt(d2) if metric == "euclidean" else d2
    if metric == "cosine":
        xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        yn = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        return 1.0 - xn @ yn.T
    raise ValueError(f"dtw: unknown metric '{metric}'; choose euclidean, sqeuclidean or cosine")


@njit(cache=True)
def _accumulate(cost: np.ndarray, band: int) -> np.ndarray:  # pragma: no cover - compiled
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        lo, hi = 1, m
        if band >= 0:
            centre = int(round(i * m / n))
            lo = max(1, centre - band)
            hi = min(m, centre + band)
        for j in range(lo, hi + 1):
            best = acc[i - 1, j - 1]
            if acc[i - 1, j] < best:
                best = acc[i - 1, j]
            if acc[i, j - 1] < best:
                best = acc[i, j - 1]
            acc[i, j] = cost[i - 1, j - 1] + best
    return acc


@njit(cache=True)
def _backtrack(acc: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    i, j = acc.shape[0] - 1, acc.shape[1] - 1
    path = np.empty((i + j, 2), dtype=np.int64)
    k = 0
    while True:
        path[k, 0] = i - 1
        path[k, 1] = j - 1
        k += 1
        if i == 1 and j == 1:
            break
        diag, up, left = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
        if diag <= up and diag <= left:
            i -= 1
            j -= 1
        elif up <= left:
            i -= 1
        else:
            j -= 1
    return path[:k][::-1].copy()


def dtw(x: np.ndarray, y: np.ndarray, metric: str = "euclidean", band: Optional[int] = None,
        cost: Optional[np.ndarray] = None) -> Tuple[float, np.ndarray]:
    """Align ``x`` ``(N, D)`` with ``y`` ``(M, D)``.

    Args:
        x, y: feature sequences (a 1-D array is one feature per frame).
        metric: frame distance (see :func:`distance_matrix`); ignored when ``cost`` is given.
        band: Sakoe-Chiba half-width in frames around the scaled diagonal (``None``: no band). It is
            widened to ``|N - M|`` when narrower, so a path always exists.
        cost: a precomputed ``(N, M)`` distance matrix.

    Returns:
        ``(total cost along the path, path (K, 2) of (i, j) pairs)``.
    """
    c = distance_matrix(x, y, metric) if cost is None else np.asarray(cost, dtype=np.float64)
    n, m = c.shape
    if n == 0 or m == 0:
        raise ValueError(f"dtw: empty sequence (lengths {n} and {m})")
    b = -1 if band is None else max(int(band), abs(n - m) + 1)
    acc = _accumulate(np.ascontiguousarray(c), b)
    path = _backtrack(acc)
    return float(acc[n, m]), path
