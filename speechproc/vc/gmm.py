"""Joint-density GMM mapping with maximum-likelihood parameter generation (Toda et al., 2007).

A full-covariance GMM is fitted by EM on joint vectors ``z_t = [x_t; y_t]`` of DTW-aligned source
and target frames (each static + delta). Conversion conditions every mixture on the source frame,

    P(m | x_t) ~ w_m N(x_t; mu_m^x, S_m^xx),
    E_m,t = mu_m^y + S_m^yx (S_m^xx)^-1 (x_t - mu_m^x),   D_m = S_m^yy - S_m^yx (S_m^xx)^-1 S_m^xy,

and :func:`mlpg` turns the sequence of static + delta means and (diagonal) covariances into the
static trajectory that maximises their likelihood under the delta constraint. ``mixture="best"``
uses the most likely mixture per frame (Toda's sub-optimum, as sprocket); ``"posterior"`` uses the
posterior-weighted mean and covariance.

The joint density is fitted by scikit-learn's ``GaussianMixture`` (full covariances, k-means++
initialisation or the previous model, EM; the log-likelihood of every iteration is kept). It runs on
the joint vectors standardised per dimension, so its ``reg_covar`` adds ``reg`` times the data's
per-dimension variance to the covariance diagonals; the parameters are mapped back to the feature
scale. The conditional conversion and MLPG are ours.

>>> rng = np.random.default_rng(0)
>>> z = np.concatenate([rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + 5.0])
>>> g = JointGMM(n_mix=2, n_iter=10, seed=0).fit(z)
>>> sorted(np.abs(np.round(g.means[:, 0])).tolist())
[0.0, 5.0]
"""
from __future__ import annotations

import logging
import math
from typing import Callable, List, Optional, Tuple

import numpy as np

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["JointGMM", "mlpg"]

logger = logging.getLogger(__name__)

_LOG_2PI = math.log(2.0 * math.pi)


def mlpg(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """Maximum-likelihood static trajectory from static + delta Gaussians (diagonal covariance).

    Args:
        mean: ``(T, 2D)`` means of ``[static, delta]`` per frame.
        var: ``(T, 2D)`` their variances (positive).

    Returns:
        ``(T, D)``: per dimension the ``y`` that minimises
        ``(W y - mu)^T P (W y - mu)`` with ``W = [I; D]`` (``D`` of :func:`speechproc.vc.features.delta_matrix`).
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    from speechproc.vc.features import delta_matrix

    mean = np.asarray(mean, dtype=np.float64)
    var = np.asarray(var, dtype=np.float64)
    t, d2 = mean.shape
    if d2 % 2 or var.shape != mean.shape:
        raise ValueError(f"mlpg: mean and var must both be (T, 2D); got {mean.shape} and {var.shape}")
    d = d2 // 2
    prec = 1.0 / np.maximum(var, 1e-12)
    dm = delta_matrix(t).tocsc()
    dmt = dm.T.tocsc()
    out = np.empty((t, d))
    for k in range(d):
        ps, pd = prec[:, k], prec[:, d + k]
        a = sp.diags(ps) + dmt @ sp.diags(pd) @ dm
        b = ps * mean[:, k] + dmt @ (pd * mean[:, d + k])
        out[:, k] = splu(a.tocsc()).solve(b)
    return out


class JointGMM:
    """Full-covariance GMM on joint ``[source; target]`` vectors (see the module docstring).

    Args:
        n_mix: number of mixtures.
        n_iter: EM iterations.
        reg: covariance floor, as a fraction of the data's per-dimension variance.
        seed: seed of the initialisation.
        tol: stop when the mean log-likelihood per frame improves by less than this.

    Attributes (after :meth:`fit`): ``weights`` ``(M,)``, ``means`` ``(M, Dz)``, ``covs`` ``(M, Dz, Dz)``,
    ``history`` (mean log-likelihood per frame after each EM iteration).
    """

    def __init__(self, n_mix: int = 32, n_iter: int = 30, reg: float = 1e-3, seed: int = 0, tol: float = 1e-4) -> None:
        if n_mix < 1 or n_iter < 0 or reg < 0:
            raise SpeechprocError(f"gmm: need n_mix >= 1, n_iter >= 0, reg >= 0; got {n_mix}, {n_iter}, {reg}")
        self.n_mix = int(n_mix)
        self.n_iter = int(n_iter)
        self.reg = float(reg)
        self.seed = int(seed)
        self.tol = float(tol)
        self.weights: Optional[np.ndarray] = None
        self.means: Optional[np.ndarray] = None
        self.covs: Optional[np.ndarray] = None
        self.history: List[float] = []
        self._cond: Optional[Tuple[np.ndarray, ...]] = None

    # ------------------------------------------------------------------ EM (scikit-learn)
    @staticmethod
    def _log_gauss(z: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
        """``(N, M)`` log densities of ``z`` ``(N, D)`` under each full-covariance Gaussian."""
        from scipy.linalg import solve_triangular

        n, d = z.shape
        out = np.empty((n, len(means)))
        for m in range(len(means)):
            chol = np.linalg.cholesky(covs[m])
            sol = solve_triangular(chol, (z - means[m]).T, lower=True, check_finite=False)
            out[:, m] = -0.5 * (d * _LOG_2PI + (sol * sol).sum(0)) - np.log(np.diag(chol)).sum()
        return out

    def fit(self, z: np.ndarray, warm_start: bool = False,
            progress: Optional[Callable[[int, float], None]] = None) -> "JointGMM":
        """Fit on joint vectors ``z`` ``(N, Dz)``; ``warm_start`` continues from the current parameters.

        ``progress(iteration, mean log-likelihood)`` is called for every EM iteration once the fit is done.
        """
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or len(z) < 2 * self.n_mix:
            raise SpeechprocError(f"gmm: need at least {2 * self.n_mix} joint frames (N, Dz) for {self.n_mix} "
                                  f"mixtures, got shape {z.shape}; use fewer mixtures or more data")
        mu, sd = z.mean(0), z.std(0) + 1e-10
        zs = (z - mu) / sd
        gm = GaussianMixture(self.n_mix, covariance_type="full", tol=max(self.tol, 0.0), reg_covar=max(self.reg, 1e-10),
                             max_iter=max(self.n_iter, 1), init_params="k-means++", random_state=self.seed)
        if warm_start and self.means is not None:
            covs = self.covs / np.outer(sd, sd)[None]
            gm.weights_init = self.weights / self.weights.sum()
            gm.means_init = (self.means - mu) / sd
            gm.precisions_init = np.linalg.inv(covs)
        self._cond = None
        log_sd = float(np.log(sd).sum())  # density of z = density of zs / prod(sd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(zs)
        self.history = [float(v) - log_sd for v in gm.lower_bounds_]  # E-step log-likelihood of every iteration
        if progress is not None:
            for it, ll in enumerate(self.history):
                progress(it, ll)
        self.weights = gm.weights_
        self.means = gm.means_ * sd + mu
        self.covs = gm.covariances_ * np.outer(sd, sd)[None]
        return self

    def _estep(self, z: np.ndarray) -> Tuple[np.ndarray, float]:
        lp = self._log_gauss(z, self.means, self.covs) + np.log(self.weights)[None, :]
        mx = lp.max(1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(lp - mx).sum(1))
        return np.exp(lp - lse[:, None]), float(lse.mean())

    def log_likelihood(self, z: np.ndarray) -> float:
        """Mean log-likelihood per frame of ``z`` ``(N, Dz)``."""
        return self._estep(np.asarray(z, dtype=np.float64))[1]

    # ------------------------------------------------------------------ conversion
    def _conditionals(self, dx: int) -> Tuple[np.ndarray, ...]:
        if self._cond is not None and self._cond[0].shape[1] == dx:
            return self._cond
        assert self.means is not None and self.covs is not None
        mx, my = self.means[:, :dx], self.means[:, dx:]
        sxx = self.covs[:, :dx, :dx]
        syx = self.covs[:, dx:, :dx]
        syy = self.covs[:, dx:, dx:]
        a = np.stack([np.linalg.solve(sxx[m], syx[m].T).T for m in range(self.n_mix)])  # (M, Dy, Dx)
        dcov = syy - np.einsum("myx,mzx->myz", a, syx)
        dvar = np.stack([np.diag(c) for c in dcov])  # (M, Dy)
        self._cond = (mx, my, sxx, a, dvar)
        return self._cond

    def convert(self, x: np.ndarray, mixture: str = "best", use_mlpg: bool = True) -> np.ndarray:
        """Convert source frames ``x`` ``(T, Dx)`` (static + delta); returns the target statics ``(T, Dy / 2)``
        (MLPG) or, with ``use_mlpg=False``, the static part of the conditional means."""
        if self.means is None:
            raise SpeechprocError("gmm: the model is not trained (call fit or load)")
        x = np.asarray(x, dtype=np.float64)
        mx, my, sxx, a, dvar = self._conditionals(x.shape[1])
        post_lp = self._log_gauss(x, mx, sxx) + np.log(self.weights)[None, :]
        post_lp -= post_lp.max(1, keepdims=True)
        post = np.exp(post_lp)
        post /= post.sum(1, keepdims=True)
        # E_m,t for every mixture: (T, M, Dy)
        e = my[None] + np.einsum("myx,tmx->tmy", a, x[:, None, :] - mx[None])
        if mixture == "best":
            best = post.argmax(1)
            mean = e[np.arange(len(x)), best]
            var = dvar[best]
        elif mixture == "posterior":
            mean = np.einsum("tm,tmy->ty", post, e)
            var = np.einsum("tm,my->ty", post, dvar)
        else:
            raise SpeechprocError(f"gmm: unknown mixture mode '{mixture}'; choose best or posterior")
        dy = mean.shape[1] // 2
        return mlpg(mean, var) if use_mlpg else mean[:, :dy]

    # ------------------------------------------------------------------ I/O
    def state(self) -> dict:
        """Arrays and settings to save (``np.savez``)."""
        return {"weights": self.weights, "means": self.means, "covs": self.covs,
                "history": np.asarray(self.history), "n_mix": self.n_mix, "n_iter": self.n_iter,
                "reg": self.reg, "seed": self.seed, "tol": self.tol}

    def save(self, path: PathLike) -> None:
        """Write the model to ``path`` (``.npz``) atomically."""
        import io

        from speechproc.utils import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, **self.state())
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: PathLike) -> "JointGMM":
        """Read a model written by :meth:`save`."""
        with np.load(path) as f:
            g = cls(int(f["n_mix"]), int(f["n_iter"]), float(f["reg"]), int(f["seed"]), float(f["tol"]))
            g.weights, g.means, g.covs = f["weights"], f["means"], f["covs"]
            g.history = f["history"].tolist()
        return g
