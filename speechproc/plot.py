"""Pictures of what a model does, shared by training (per-epoch plots) and inference (synthesis plots):
attention maps, mel spectrograms and training curves, drawn with matplotlib (axes, labels, units, titles)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch

from speechproc.utils import PathLike

__all__ = ["save_attention_png", "save_mel_png", "save_curves_png", "train_log_curves"]

Array = Union[np.ndarray, torch.Tensor]


def _numpy(x: Array) -> np.ndarray:
    return x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: PathLike) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(str(tmp), dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    tmp.replace(path)


def save_attention_png(align: Array, path: PathLike, title: Optional[str] = None, xlabel: str = "input token",
                       ylabel: str = "decoder step") -> None:
    """Attention ``(steps, inputs)``: decoder steps down, inputs across, weight as colour (0-1)."""
    a = _numpy(align)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, min(12.0, a.shape[1] / 12 + 3)), max(3.0, min(8.0, a.shape[0] / 20 + 2))))
    im = ax.imshow(a, aspect="auto", origin="upper", interpolation="nearest", cmap="viridis", vmin=0.0,
                   vmax=max(float(a.max(initial=0.0)), 1e-6))
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or Path(path).stem)
    fig.colorbar(im, ax=ax, label="attention weight")
    _save(fig, path)


def save_mel_png(mel: Array, path: PathLike, title: Optional[str] = None, frame_seconds: Optional[float] = None,
                 target: Optional[Array] = None) -> None:
    """Mel spectrogram ``(T, n_mels)`` (log magnitude): low bins at the bottom, time across (seconds when
    ``frame_seconds`` is given, else frames); with ``target`` (the natural mel) a panel above it, on one scale."""
    m = _numpy(mel)
    panels = [("target", _numpy(target)), ("prediction", m)] if target is not None else [("", m)]
    plt = _pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(5.0, min(14.0, m.shape[0] / 60 + 4)), 2.6 * len(panels)),
                             squeeze=False)
    lo = min(float(x.min(initial=0.0)) for _, x in panels)
    hi = max(float(x.max(initial=0.0)) for _, x in panels)
    for ax, (name, x) in zip(axes[:, 0], panels):
        extent = (0.0, x.shape[0] * frame_seconds, 0, x.shape[1]) if frame_seconds else None
        im = ax.imshow(x.T, aspect="auto", origin="lower", interpolation="nearest", cmap="magma", vmin=lo, vmax=hi,
                       extent=extent)
        ax.set_ylabel("mel bin")
        ax.set_title(" ".join(t for t in (title or Path(path).stem, name) if t))
        fig.colorbar(im, ax=ax, label="log magnitude")
    axes[-1, 0].set_xlabel("time (s)" if frame_seconds else "frame")
    fig.tight_layout()
    _save(fig, path)


def save_curves_png(curves: Dict[str, List[Tuple[float, float]]], path: PathLike, title: str = "training curves",
                    xlabel: str = "epoch") -> None:
    """Line plot of named ``(x, y)`` series: one panel per quantity (``train loss`` and ``valid loss`` share
    the ``loss`` panel)."""
    groups: Dict[str, List[str]] = {}
    for name in curves:
        groups.setdefault(re.sub(r"^(train|valid)\s+", "", name), []).append(name)
    plt = _pyplot()
    n = max(1, len(groups))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (quantity, names) in zip(axes.flat, groups.items()):
        for name in names:
            xs, ys = zip(*curves[name]) if curves[name] else ((), ())
            ax.plot(xs, ys, marker="o", markersize=3, label=name.split()[0] if len(names) > 1 else name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(quantity)
        ax.grid(alpha=0.3)
        if len(names) > 1:
            ax.legend()
    for ax in list(axes.flat)[len(groups):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def train_log_curves(path: PathLike) -> Dict[str, List[Tuple[float, float]]]:
    """The per-epoch numbers of a ``train_log.txt`` (``epoch: 3, lr: ... - train loss: 1.2 - valid loss: 0.9,
    valid acc: 0.5``) as ``{"train loss": [(3, 1.2)], "valid loss": [(3, 0.9)], "lr": [...], ...}``; a resumed
    run's repeated epochs keep their last value."""
    curves: Dict[str, Dict[float, float]] = {}
    p = Path(path)
    if not p.is_file():
        return {}
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(rf"epoch:\s*({_NUMBER})", line)
        if not m:
            continue
        epoch = float(m.group(1))
        for key, value in re.findall(rf"((?:train|valid)\s+[A-Za-z_]+|lr):\s*({_NUMBER})", line):
            curves.setdefault(key, {})[epoch] = float(value)
    return {k: sorted(v.items()) for k, v in curves.items()}
