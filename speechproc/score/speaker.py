"""Speaker embeddings of a model trained in the project: verification EER and speaker similarity.

:class:`SpeakerEmbedder` loads an experiment dir of ``task: spk`` (:mod:`speechproc.tasks.spk`, e.g.
``egs/an4/spk/exp/ecapa``) and maps a waveform to an L2-normalised embedding ``(D,)``:

>>> emb = SpeakerEmbedder.from_pretrained("egs/an4/spk/exp/ecapa")      # doctest: +SKIP
>>> e = emb.embed(wave, 16000)            # or emb(wave, 16000); np.ndarray (D,), unit norm
>>> cosine(e, emb.embed(other, 16000))    # in [-1, 1]

Speaker similarity for voice conversion (:func:`speaker_similarity`): the cosine between each
converted utterance and the *centroid* (normalised mean embedding) of the natural target speaker's
utterances, and the same against the source speaker, averaged over the converted utterances.

Speaker verification (:func:`verify_data_dir`, verb ``eval_speaker``): every pair of utterances of a
data dir is a trial (target when both have the same speaker in ``utt2spk``), scored by the cosine of
their embeddings; the equal error rate comes from :func:`compute_eer` (SpeechBrain's EER).
"""
from __future__ import annotations

import json
import logging
import math
import time
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from speechproc.utils import PathLike, SpeechprocError, atomic_write_text

__all__ = [
    "SpeakerEmbedder",
    "load_speaker_embedder",
    "data_dir_centroid",
    "cosine",
    "centroid",
    "speaker_similarity",
    "make_trials",
    "compute_eer",
    "verify_data_dir",
    "identify_data_dir",
]

logger = logging.getLogger(__name__)


Embedder = Callable[[np.ndarray, int], np.ndarray]


def load_speaker_embedder(speaker_exp: Optional[PathLike]) -> Tuple[Optional[Embedder], str]:
    """The speaker embedder for the similarity columns, and a note for the table (which model, or why none).

    Args:
        speaker_exp: a trained speaker model's exp dir (``egs/an4/spk``: ``bash run.sh`` there); None or
            ``none`` leaves the columns out. A dir without a finished model (``model.pt``) gives ``-`` in the
            columns and a note saying how to train it, so an evaluation never waits for the speaker model.
    """
    if speaker_exp is None or str(speaker_exp) == "none":
        return None, "speaker similarity: off (no --speaker-exp)"
    exp = Path(speaker_exp)
    if not (exp / "model.pt").is_file():
        logger.warning("%s: no finished speaker model (model.pt); speaker similarity reported as '-' "
                       "(train one with egs/an4/spk/run.sh)", exp)
        return None, f"speaker similarity: '-' (no finished speaker model at {exp}; train it with egs/an4/spk/run.sh)"
    return SpeakerEmbedder.from_pretrained(exp), f"speaker similarity: cosine of embeddings from {exp}"


def data_dir_centroid(embed: Embedder, data: Any) -> np.ndarray:
    """The speaker model of a data dir's voice: the :func:`centroid` of its utterances' embeddings."""
    return centroid([np.asarray(embed(*data.load_audio(u)), dtype=np.float64) for u in data.utts])


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors ``(D,)`` (0 when one is all zeros)."""
    a = np.ravel(np.asarray(a, dtype=np.float64))
    b = np.ravel(np.asarray(b, dtype=np.float64))
    if a.shape != b.shape:
        raise ValueError(f"cosine: vectors of different sizes {a.shape} and {b.shape}")
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def centroid(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    """L2-normalised mean of the L2-normalised embeddings ``[(D,), ...]`` (a speaker model)."""
    if len(embeddings) == 0:
        raise SpeechprocError("centroid of no embeddings; fix: give at least one utterance of the speaker")
    x = np.stack([np.ravel(e) / max(np.linalg.norm(e), 1e-12) for e in embeddings]).astype(np.float64)
    m = x.mean(axis=0)
    return m / max(np.linalg.norm(m), 1e-12)


class SpeakerEmbedder:
    """Waveform -> speaker embedding with a trained ``task: spk`` model.

    Args:
        modules: the trained modules (``embedding_model``, optionally ``normalize`` and ``classifier``).
        fbank_config: the feature settings of training (:class:`~speechproc.features.fbank.FbankConfig`).
        mean_norm: per-utterance mean normalisation as in training.
        labels: the training speakers (:class:`~speechproc.tasks.spk.SpeakerLabels`), for :meth:`classify`.
        device: torch device.
        exp_dir: where the model came from (for messages).
    """

    def __init__(self, modules, fbank_config, mean_norm: bool = True, labels=None, device: str = "cpu",
                 exp_dir: Optional[PathLike] = None) -> None:
        if "embedding_model" not in modules:
            raise SpeechprocError(f"{exp_dir or 'model'}: no 'embedding_model' module; is it a speaker model (task: spk)?")
        self.modules = modules
        self.fbank_config = fbank_config
        self.mean_norm = mean_norm
        self.labels = labels
        self.device = device
        self.exp_dir = Path(exp_dir) if exp_dir is not None else None
        self._dim: Optional[int] = None

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, device: str = "cpu") -> "SpeakerEmbedder":
        """Load a finished speaker training run (``train.yaml``, ``model.pt``, ``fbank.json``, ``speakers.txt``, ``cmvn.npz``)."""
        from speechproc.exp import load_trained_modules
        from speechproc.features.fbank import FbankConfig, load_fbank_config
        from speechproc.tasks.spk import CMVN_FILE, FBANK_FILE, LABELS_FILE, SpeakerLabels

        exp_dir = Path(exp_dir)
        if not exp_dir.is_dir():
            raise SpeechprocError(f"{exp_dir}: speaker model dir not found; train one with egs/an4/spk/run.sh")
        extra = {"cmvn_stats": str(exp_dir / CMVN_FILE)} if (exp_dir / CMVN_FILE).is_file() else None
        hparams, modules = load_trained_modules(exp_dir, extra_overrides=extra, device=device)
        if hparams.get("task") != "spk":
            raise SpeechprocError(f"{exp_dir}/train.yaml: task is '{hparams.get('task')}', not 'spk'; "
                                  f"fix: give the exp dir of a speaker model")
        fbank = load_fbank_config(exp_dir / FBANK_FILE) if (exp_dir / FBANK_FILE).is_file() else FbankConfig()
        labels = SpeakerLabels.load(exp_dir / LABELS_FILE) if (exp_dir / LABELS_FILE).is_file() else None
        return cls(modules, fbank, bool(hparams.get("utterance_mean_norm", True)), labels, device, exp_dir)

    @property
    def dim(self) -> int:
        """Embedding dimension ``D``."""
        if self._dim is None:
            wave = np.zeros(self.fbank_config.sample_rate, dtype=np.float32)
            wave[::97] = 0.01
            self._dim = int(self._raw(wave, self.fbank_config.sample_rate).shape[-1])
        return self._dim

    def features(self, wave: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Normalised features ``(1, T, D)`` of a waveform ``(N,)`` (resampled to the model's rate)."""
        from speechproc.data.audio import resample
        from speechproc.features.fbank import compute_fbank
        from speechproc.tasks.spk import normalize_features

        x = np.asarray(wave, dtype=np.float32)
        if x.ndim == 2:  # (N, channels) -> mono
            x = x.mean(axis=1)
        if x.ndim != 1:
            raise ValueError(f"SpeakerEmbedder: expected a waveform (N,), got shape {x.shape}")
        sr = self.fbank_config.sample_rate
        if int(sample_rate) != sr:
            x = resample(x, int(sample_rate), sr)
        feats = compute_fbank(x, self.fbank_config)
        if feats.shape[0] < 3:
            raise SpeechprocError(f"SpeakerEmbedder: audio of {len(x) / sr:.3f} s is too short for a speaker embedding "
                                  f"(need at least 3 frames, about 0.05 s)")
        feats = feats.unsqueeze(0).to(self.device)
        lengths = torch.tensor([feats.shape[1]], device=self.device)
        cmvn = self.modules["normalize"] if "normalize" in self.modules else None
        return normalize_features(feats, lengths, cmvn, self.mean_norm)

    @torch.no_grad()
    def _raw(self, wave: np.ndarray, sample_rate: int) -> torch.Tensor:
        feats = self.features(wave, sample_rate)
        emb = self.modules["embedding_model"](feats, torch.ones(1, device=self.device))
        return emb.reshape(1, -1)

    def embed(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """L2-normalised embedding ``(D,)`` (float32) of a waveform ``(N,)`` in [-1, 1] at ``sample_rate``."""
        e = self._raw(wave, sample_rate)[0].double().cpu().numpy()
        return (e / max(np.linalg.norm(e), 1e-12)).astype(np.float32)

    __call__ = embed

    @torch.no_grad()
    def classify(self, wave: np.ndarray, sample_rate: int) -> Tuple[str, float]:
        """Closed-set identification among the training speakers: (speaker, cosine to its class weight)."""
        if self.labels is None or "classifier" not in self.modules:
            raise SpeechprocError(f"{self.exp_dir}: no classifier or speakers.txt; identification needs both")
        cos = self.modules["classifier"](self._raw(wave, sample_rate).unsqueeze(1)).reshape(-1)
        cos = cos[: len(self.labels)]  # a classifier may have spare outputs (never trained targets)
        i = int(cos.argmax())
        return self.labels.decode(i), float(cos[i])

    def embed_data_dir(self, data_dir, max_utts: Optional[int] = None) -> Dict[str, np.ndarray]:
        """Embeddings ``{utt: (D,)}`` of every utterance of a data dir (path or DataDir), audio from ``wav.scp``."""
        data = _load(data_dir)
        utts = data.utts if max_utts is None else data.utts[:max_utts]
        out = {}
        for u in utts:
            wave, sr = data.load_audio(u)
            out[u] = self.embed(wave, sr)
        return out


def _load(data_dir):
    from speechproc.data.datadir import DataDir

    if isinstance(data_dir, DataDir):
        return data_dir
    path = Path(data_dir)
    if not path.is_dir():
        raise SpeechprocError(f"{path}: data dir not found")
    return DataDir.load(path)


def _embedder(embedder: Union["SpeakerEmbedder", PathLike]) -> "SpeakerEmbedder":
    if isinstance(embedder, SpeakerEmbedder):
        return embedder
    return SpeakerEmbedder.from_pretrained(embedder)


def speaker_similarity(
    converted_dir,
    target_dir,
    source_dir=None,
    *,
    embedder: Union[SpeakerEmbedder, PathLike],
) -> Dict[str, object]:
    """Speaker similarity of converted speech to the natural target (and source) speaker.

    Args:
        converted_dir: data dir (path or DataDir) of the converted utterances.
        target_dir: natural speech of the target speaker (its evaluation or training utterances);
            their centroid (:func:`centroid`) is the target speaker model.
        source_dir: natural speech of the source speaker, likewise (optional).
        embedder: a :class:`SpeakerEmbedder` or a trained speaker model's exp dir (``egs/an4/spk``).

    Returns:
        ``{"to_target": mean cosine, "to_source": mean cosine or None, "n_utts": N,
        "target_utts": n, "source_utts": n or 0, "per_utt": {utt: {"to_target": c, "to_source": c}}}``.
    """
    emb = _embedder(embedder)
    refs: Dict[str, np.ndarray] = {}
    counts: Dict[str, int] = {}
    for name, d in (("target", target_dir), ("source", source_dir)):
        if d is None:
            continue
        data = _load(d)
        if len(data.speakers) > 1:
            logger.warning("%s: %d speakers in utt2spk; the %s centroid pools them all", d, len(data.speakers), name)
        embs = emb.embed_data_dir(data)
        refs[name] = centroid(list(embs.values()))
        counts[name] = len(embs)
    conv = emb.embed_data_dir(converted_dir)
    per_utt = {u: {f"to_{k}": cosine(e, c) for k, c in refs.items()} for u, e in conv.items()}
    result: Dict[str, object] = {
        "to_target": float(np.mean([v["to_target"] for v in per_utt.values()])),
        "to_source": float(np.mean([v["to_source"] for v in per_utt.values()])) if "source" in refs else None,
        "n_utts": len(conv),
        "target_utts": counts["target"],
        "source_utts": counts.get("source", 0),
        "embedder": str(emb.exp_dir),
        "per_utt": per_utt,
    }
    return result


# ------------------------------------------------------------------------------------------------
# verification


def make_trials(utt2spk: Dict[str, str], max_trials: Optional[int] = None, seed: int = 0) -> List[Tuple[str, str, bool]]:
    """Verification trials: every unordered pair of utterances, ``(utt1, utt2, same_speaker)``.

    With ``max_trials`` a fixed random sample (``seed``) of that many pairs is kept, in sorted order.
    """
    utts = sorted(utt2spk)
    pairs = [(a, b, utt2spk[a] == utt2spk[b]) for a, b in combinations(utts, 2)]
    if max_trials is not None and len(pairs) > max_trials:
        keep = np.random.default_rng(seed).choice(len(pairs), size=max_trials, replace=False)
        pairs = [pairs[i] for i in sorted(keep)]
    return pairs


def compute_eer(scores: Sequence[float], labels: Sequence[bool]) -> Tuple[float, float]:
    """Equal error rate of verification scores (higher = more likely the same speaker), by SpeechBrain's
    ``speechbrain.utils.metric_stats.EER`` (the implementation SpeechBrain's speaker recipes report), with
    the input checked first.

    Args:
        scores: one score per trial.
        labels: True for target (same-speaker) trials.

    Returns:
        ``(eer, threshold)``: EER in [0, 1] and the score threshold at which SpeechBrain finds it.
    """
    import torch
    from speechbrain.utils.metric_stats import EER

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"compute_eer: scores {s.shape} and labels {y.shape} must be 1-D of equal length")
    n_tar, n_non = int(y.sum()), int((~y).sum())
    if n_tar == 0 or n_non == 0:
        raise SpeechprocError(f"compute_eer: need target and non-target trials, got {n_tar} and {n_non}; "
                              f"fix: evaluate on a data dir with several utterances of at least 2 speakers")
    if not np.isfinite(s).all():
        raise SpeechprocError("compute_eer: scores contain NaN or infinity")
    eer, threshold = EER(torch.as_tensor(s[y]), torch.as_tensor(s[~y]))
    return float(eer), float(threshold)


def verify_data_dir(
    embedder: Union[SpeakerEmbedder, PathLike],
    data_dir: PathLike,
    out_dir: Optional[PathLike] = None,
    max_trials: Optional[int] = None,
) -> Dict[str, object]:
    """Speaker verification on all utterance pairs of ``data_dir``; writes ``trials``, ``scores``, ``eer.json``, ``result.md``.

    Args:
        embedder: a :class:`SpeakerEmbedder` or an exp dir.
        data_dir: evaluation data dir (speakers from ``utt2spk``).
        out_dir: where to write the files (None: nothing written).
        max_trials: evaluate a fixed random sample of this many pairs.

    Returns:
        the ``eer.json`` dict (``eer`` in %, ``threshold``, trial and speaker counts, embedding dim, timing).
    """
    emb = _embedder(embedder)
    data = _load(data_dir)
    if len(data.speakers) < 2:
        raise SpeechprocError(f"{data_dir}: {len(data.speakers)} speaker(s) in utt2spk; verification needs at least 2")
    start = time.perf_counter()
    embs = emb.embed_data_dir(data)
    embed_s = time.perf_counter() - start
    trials = make_trials(data.utt2spk, max_trials)
    scores = [float(np.dot(embs[a], embs[b])) for a, b, _ in trials]
    eer, thr = compute_eer(scores, [t for _, _, t in trials])
    tar = np.array([sc for sc, (_, _, t) in zip(scores, trials) if t])
    non = np.array([sc for sc, (_, _, t) in zip(scores, trials) if not t])
    result: Dict[str, object] = {
        "eer": round(100.0 * eer, 3),
        "threshold": round(thr, 4),
        "n_trials": len(trials),
        "n_target": int(len(tar)),
        "n_nontarget": int(len(non)),
        "n_utts": len(data),
        "n_speakers": len(data.speakers),
        "mean_target_cosine": round(float(tar.mean()), 4),
        "mean_nontarget_cosine": round(float(non.mean()), 4),
        "embedding_dim": int(next(iter(embs.values())).shape[0]),
        "embed_seconds": round(embed_s, 1),
        "exp_dir": str(emb.exp_dir),
        "data_dir": str(data_dir),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "trials", "".join(f"{a} {b} {'target' if t else 'nontarget'}\n" for a, b, t in trials))
        atomic_write_text(out / "scores", "".join(f"{a} {b} {sc:.6f}\n" for (a, b, _), sc in zip(trials, scores)))
        atomic_write_text(out / "eer.json", json.dumps(result, indent=2) + "\n")
        atomic_write_text(out / "result.md", format_result(result))
    logger.info("verification on %s: EER %.2f %% (%d target / %d non-target trials, %d speakers)", data_dir,
                result["eer"], len(tar), len(non), len(data.speakers))
    return result


def identify_data_dir(embedder: Union[SpeakerEmbedder, PathLike], data_dir: PathLike,
                      out_dir: Optional[PathLike] = None) -> Dict[str, object]:
    """Closed-set identification accuracy among the training speakers (utterances of training speakers).

    Writes ``hyp`` (``utt speaker cosine``) and ``accuracy.json`` into ``out_dir`` when given.
    """
    emb = _embedder(embedder)
    data = _load(data_dir)
    if emb.labels is None:
        raise SpeechprocError(f"{emb.exp_dir}/speakers.txt: missing; identification needs the training speakers")
    for u in data.utts:
        emb.labels.encode(data.utt2spk[u], where=f"{data_dir}/utt2spk (utterance {u})")
    hyps = {}
    for u in data.utts:
        wave, sr = data.load_audio(u)
        hyps[u] = emb.classify(wave, sr)
    correct = sum(hyps[u][0] == data.utt2spk[u] for u in data.utts)
    result = {"accuracy": round(100.0 * correct / len(data), 2), "correct": int(correct), "n_utts": len(data),
              "n_speakers": len(data.speakers), "exp_dir": str(emb.exp_dir), "data_dir": str(data_dir)}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "hyp", "".join(f"{u} {s} {c:.4f}\n" for u, (s, c) in hyps.items()))
        atomic_write_text(out / "accuracy.json", json.dumps(result, indent=2) + "\n")
    logger.info("identification on %s: %.2f %% (%d of %d)", data_dir, result["accuracy"], correct, len(data))
    return result


def format_result(result: Dict[str, object]) -> str:
    """Markdown table of a :func:`verify_data_dir` result."""
    def f(x):
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)

    return ("| model | data | speakers | utts | target / non-target trials | EER % | threshold | "
            "mean cos target / non-target | dim |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
            f"| {f(result.get('exp_dir'))} | {f(result.get('data_dir'))} | {result['n_speakers']} | {result['n_utts']} | "
            f"{result['n_target']} / {result['n_nontarget']} | {result['eer']:.2f} | {result['threshold']} | "
            f"{result['mean_target_cosine']} / {result['mean_nontarget_cosine']} | {result['embedding_dim']} |\n")
