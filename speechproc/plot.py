"""Pictures of what a model does, shared by training (per-epoch plots) and inference (synthesis plots):
attention maps and mel spectrograms as grey-scale PNGs (dark = high)."""
from __future__ import annotations

from typing import Union

import numpy as np
import torch

from speechproc.utils import PathLike

__all__ = ["save_attention_png", "save_mel_png"]


def _to_image(x: np.ndarray, path: PathLike, min_size: int = 256) -> None:
    from PIL import Image

    x = np.asarray(x, dtype=np.float64)
    lo, hi = float(np.min(x)), float(np.max(x))
    img = ((x - lo) / (hi - lo + 1e-12) * 255.0).astype(np.uint8)
    im = Image.fromarray(255 - img)  # dark = high
    scale = max(1, int(np.ceil(min_size / max(1, min(img.shape)))))
    if scale > 1:
        im = im.resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST)
    im.save(str(path))


def save_attention_png(align: Union[np.ndarray, torch.Tensor], path: PathLike) -> None:
    """Attention ``(steps, tokens)`` as a grey-scale PNG (decoder steps down, tokens across)."""
    a = align.detach().cpu().numpy() if isinstance(align, torch.Tensor) else np.asarray(align)
    _to_image(a, path)


def save_mel_png(mel: Union[np.ndarray, torch.Tensor], path: PathLike) -> None:
    """Mel ``(T, n_mels)`` as a PNG (low bins at the bottom, time across)."""
    m = mel.detach().cpu().numpy() if isinstance(mel, torch.Tensor) else np.asarray(mel)
    _to_image(m.T[::-1], path, min_size=160)
