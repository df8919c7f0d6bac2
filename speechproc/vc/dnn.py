"""Frame-level DNN mapping: source static + delta features (with context frames) -> target static + delta.

A small feed-forward network (:class:`FrameDNN`) is trained with MSE on DTW-aligned frame pairs,
inputs and outputs normalised to zero mean and unit variance by training-set statistics. At
conversion the network predicts the target's static + delta means and :func:`speechproc.vc.gmm.mlpg`
smooths them with the per-dimension residual variances of the training pairs (as in DNN-based
parametric synthesis).

Training is a plain torch loop (a few seconds to a minute on one CPU thread): Adam, shuffled
mini-batches of frames, a validation split of whole utterances, the parameters of the best
validation epoch kept; every epoch is logged.

>>> net = FrameDNN(in_dim=10, out_dim=4, hidden=16, layers=2)
>>> net(torch.zeros(3, 10)).shape
torch.Size([3, 4])
"""
from __future__ import annotations

import copy
import logging
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from speechproc.utils import SpeechprocError, load_weights

__all__ = ["FrameDNN", "stack_context", "DNNMapping"]

logger = logging.getLogger(__name__)


def stack_context(x: np.ndarray, context: int) -> np.ndarray:
    """Frames ``t - context .. t + context`` of ``x`` ``(T, D)`` side by side: ``(T, (2 context + 1) D)``
    (edge frames repeated)."""
    x = np.asarray(x, dtype=np.float64)
    if context <= 0:
        return x
    t = len(x)
    idx = np.clip(np.arange(t)[:, None] + np.arange(-context, context + 1)[None, :], 0, t - 1)
    return x[idx].reshape(t, -1)


class FrameDNN(torch.nn.Module):
    """Feed-forward network ``(B, in_dim) -> (B, out_dim)``: ``layers`` hidden layers of ``hidden``
    units (Linear, tanh, dropout), then a linear output layer."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256, layers: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        if layers < 1 or hidden < 1:
            raise SpeechprocError(f"dnn: need layers >= 1 and hidden >= 1, got {layers} and {hidden}")
        blocks: List[torch.nn.Module] = []
        d = in_dim
        for _ in range(layers):
            blocks += [torch.nn.Linear(d, hidden), torch.nn.Tanh()]
            if dropout > 0:
                blocks.append(torch.nn.Dropout(dropout))
            d = hidden
        blocks.append(torch.nn.Linear(d, out_dim))
        self.net = torch.nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_dim)`` -> ``(B, out_dim)``."""
        return self.net(x)


class DNNMapping:
    """A trained :class:`FrameDNN` with its normalisation statistics and residual variances.

    Args:
        context: source context frames on each side.
        hidden, layers, dropout: network size.
        epochs, batch_size, lr, weight_decay: training.
        valid_fraction: share of utterances held out to pick the best epoch.
        seed: seed of the initialisation and the batch order.
    """

    def __init__(self, context: int = 2, hidden: int = 256, layers: int = 3, dropout: float = 0.0, epochs: int = 30,
                 batch_size: int = 256, lr: float = 1e-3, weight_decay: float = 0.0, valid_fraction: float = 0.1,
                 seed: int = 0) -> None:
        self.hparams = {"context": int(context), "hidden": int(hidden), "layers": int(layers), "dropout": float(dropout),
                        "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
                        "weight_decay": float(weight_decay), "valid_fraction": float(valid_fraction), "seed": int(seed)}
        self.net: Optional[FrameDNN] = None
        self.stats: Dict[str, np.ndarray] = {}
        self.history: List[Dict[str, float]] = []

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        return stack_context(x, self.hparams["context"])

    def fit(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pairs: Sequence[np.ndarray]) -> "DNNMapping":
        """Train on utterances ``src[k]`` ``(T_s, Dx)``, ``tgt[k]`` ``(T_t, Dy)`` (static + delta) and their
        frame pairs ``pairs[k]`` ``(K, 2)`` (source index, target index)."""
        h = self.hparams
        n_utt = len(src)
        rng = np.random.default_rng(h["seed"])
        order = rng.permutation(n_utt)
        n_valid = int(round(h["valid_fraction"] * n_utt)) if n_utt >= 5 else 0
        valid_utts = set(order[:n_valid].tolist())

        def gather(utts):
            xs = [self._inputs(src[k])[pairs[k][:, 0]] for k in utts]
            ys = [np.asarray(tgt[k])[pairs[k][:, 1]] for k in utts]
            return np.concatenate(xs), np.concatenate(ys)

        x_tr, y_tr = gather([k for k in range(n_utt) if k not in valid_utts])
        x_va, y_va = gather(sorted(valid_utts)) if valid_utts else (x_tr[:0], y_tr[:0])
        self.stats = {"x_mean": x_tr.mean(0), "x_std": x_tr.std(0) + 1e-8, "y_mean": y_tr.mean(0),
                      "y_std": y_tr.std(0) + 1e-8}
        torch.manual_seed(h["seed"])
        net = FrameDNN(x_tr.shape[1], y_tr.shape[1], h["hidden"], h["layers"], h["dropout"])
        opt = torch.optim.Adam(net.parameters(), lr=h["lr"], weight_decay=h["weight_decay"])

        def tensors(x, y):
            return (torch.as_tensor((x - self.stats["x_mean"]) / self.stats["x_std"], dtype=torch.float32),
                    torch.as_tensor((y - self.stats["y_mean"]) / self.stats["y_std"], dtype=torch.float32))

        xt, yt = tensors(x_tr, y_tr)
        xv, yv = tensors(x_va, y_va)
        gen = torch.Generator().manual_seed(h["seed"])
        best_loss, best_state = float("inf"), None
        self.history = []
        logger.info("dnn: %d training frames (%d utterances), %d validation frames (%d utterances), input %d, "
                    "output %d, %d parameters", len(xt), n_utt - len(valid_utts), len(xv), len(valid_utts), xt.shape[1],
                    yt.shape[1], sum(p.numel() for p in net.parameters()))
        start = time.perf_counter()
        for epoch in range(1, h["epochs"] + 1):
            net.train()
            perm = torch.randperm(len(xt), generator=gen)
            total = 0.0
            for i in range(0, len(xt), h["batch_size"]):
                b = perm[i:i + h["batch_size"]]
                loss = torch.nn.functional.mse_loss(net(xt[b]), yt[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(b)
            train_loss = total / len(xt)
            net.eval()
            with torch.no_grad():
                valid_loss = float(torch.nn.functional.mse_loss(net(xv), yv)) if len(xv) else train_loss
            self.history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss})
            logger.info("dnn: epoch %d/%d train mse %.4f valid mse %.4f (%.1f s)", epoch, h["epochs"], train_loss,
                        valid_loss, time.perf_counter() - start)
            if valid_loss < best_loss:
                best_loss, best_state = valid_loss, copy.deepcopy(net.state_dict())
        assert best_state is not None
        net.load_state_dict(best_state)
        net.eval()
        self.net = net
        with torch.no_grad():
            pred = self._predict(x_tr)
        self.stats["residual_var"] = np.maximum(((pred - y_tr) ** 2).mean(0), 1e-8)
        return self

    def _predict(self, x_in: np.ndarray) -> np.ndarray:
        assert self.net is not None
        x = torch.as_tensor((x_in - self.stats["x_mean"]) / self.stats["x_std"], dtype=torch.float32)
        with torch.no_grad():
            y = self.net(x).double().numpy()
        return y * self.stats["y_std"] + self.stats["y_mean"]

    def convert(self, x: np.ndarray, use_mlpg: bool = True) -> np.ndarray:
        """Source static + delta ``(T, Dx)`` -> target statics ``(T, Dy / 2)`` (MLPG with the residual variances)."""
        from speechproc.vc.gmm import mlpg

        if self.net is None:
            raise SpeechprocError("dnn: the model is not trained (call fit or load)")
        mean = self._predict(self._inputs(x))
        if not use_mlpg:
            return mean[:, : mean.shape[1] // 2]
        return mlpg(mean, np.broadcast_to(self.stats["residual_var"], mean.shape))

    def state(self) -> dict:
        """What :meth:`load` needs (``torch.save``)."""
        assert self.net is not None
        return {"hparams": self.hparams, "state_dict": self.net.state_dict(),
                "dims": [self.net.net[0].in_features, self.net.net[-1].out_features],
                "stats": {k: torch.as_tensor(v) for k, v in self.stats.items()}, "history": self.history}

    def save(self, path) -> None:
        """Write the model to ``path`` atomically."""
        import io

        from speechproc.utils import atomic_write_bytes

        buf = io.BytesIO()
        torch.save(self.state(), buf)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "DNNMapping":
        """Read a model written by :meth:`save`."""
        ckpt = load_weights(path)
        m = cls(**ckpt["hparams"])
        h = m.hparams
        m.net = FrameDNN(ckpt["dims"][0], ckpt["dims"][1], h["hidden"], h["layers"], h["dropout"])
        m.net.load_state_dict(ckpt["state_dict"])
        m.net.eval()
        m.stats = {k: v.numpy() for k, v in ckpt["stats"].items()}
        m.history = ckpt["history"]
        return m
