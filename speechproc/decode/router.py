"""Routing an utterance to the fine-tuned module of its domain, without a task id.

A model kept up to date with one LoRA per data period (continual fine-tuning, ``chain: separate``) must decide,
for each input, which period's LoRA to use, or whether the input belongs to none of them and the pretrained
model should answer. :class:`DomainRouter` decides from the pretrained Whisper encoder: it pools the encoder
states of the frames that hold audio (mean and standard deviation over time), and a multinomial logistic
regression (``sklearn``), fitted on the periods' training audio and on *background* audio (speech from
outside every period, standing for the pretraining domain), gives the class probabilities. Background audio
needs no transcripts. The fitted router is plain data (JSON: the standardisation, the weights, the labels), so
reading it never runs code; routing is a matrix product.

>>> router = DomainRouter.fit({"an4": an4_states, "yesno": yesno_states}, background_states)  # doctest: +SKIP
>>> router.route(states)   # the label, or DomainRouter.BACKGROUND            # doctest: +SKIP
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["DomainRouter", "pooled_states", "data_dir_states", "routed_texts"]

FORMAT_VERSION = 1
SAMPLE_RATE = 16000
FRAME_SAMPLES = 320  # one Whisper encoder state per 20 ms


@torch.no_grad()
def pooled_states(model: Any, wave: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over time of the encoder states of ``model`` (a
    :class:`~speechproc.models.pretrained.whisper_asr.WhisperASR`) for the frames holding ``wave`` (16 kHz;
    cut to the model's window): a vector of ``2 * d_model``."""
    w = torch.as_tensor(np.asarray(wave, dtype=np.float32))[: model.window_samples]
    if w.numel() == 0:
        raise SpeechprocError("routing needs audio; got an empty waveform")
    enc = model.encode(w[None], torch.tensor([w.numel()]))[0]
    enc = enc[: max(1, int(np.ceil(w.numel() / FRAME_SAMPLES)))].float()
    return torch.cat([enc.mean(0), enc.std(0, unbiased=False)]).numpy()


def data_dir_states(model: Any, data: Any, progress: bool = True, desc: str = "routing states") -> Dict[str, np.ndarray]:
    """``{utt: pooled_states}`` for every utterance of a :class:`~speechproc.data.datadir.DataDir` (resampled to
    16 kHz on load)."""
    from tqdm import tqdm

    out: Dict[str, np.ndarray] = {}
    for utt in tqdm(data.utts, desc=desc, unit="utt", disable=not progress):
        wave, _ = data.load_audio(utt, sample_rate=SAMPLE_RATE)
        try:
            out[utt] = pooled_states(model, wave)
        except SpeechprocError as e:
            raise SpeechprocError(f"{data.source}: utterance {utt}: {e}") from None
    return out


class DomainRouter:
    """A multinomial logistic regression over pooled encoder states: one class per domain plus
    :attr:`BACKGROUND` (module docstring)."""

    BACKGROUND = "background"

    def __init__(self, labels: Sequence[str], mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray, info: Optional[Dict[str, Any]] = None) -> None:
        self.labels = list(labels)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.info = dict(info or {})
        if self.coef.shape != (len(self.labels), len(self.mean)) or self.intercept.shape != (len(self.labels),):
            raise SpeechprocError(f"router weights of shape {self.coef.shape} / {self.intercept.shape} do not match "
                                  f"{len(self.labels)} labels and {len(self.mean)} features")

    @classmethod
    def fit(cls, domains: Mapping[str, Sequence[np.ndarray]], background: Sequence[np.ndarray], c: float = 1.0,
            info: Optional[Dict[str, Any]] = None) -> "DomainRouter":
        """Fit on the pooled states of each domain's training audio and of the background audio; the classes
        are weighted to balance (a period of 25 utterances counts as much as one of 900)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        if not domains:
            raise SpeechprocError("a router needs at least one domain")
        if cls.BACKGROUND in domains:
            raise SpeechprocError(f"'{cls.BACKGROUND}' is the router's name for audio of no domain; rename that domain")
        if len(background) == 0:
            raise SpeechprocError("a router needs background audio (speech of no domain); got none")
        labels = [cls.BACKGROUND] + list(domains)
        groups = [list(background)] + [list(domains[d]) for d in domains]
        for label, g in zip(labels, groups):
            if not g:
                raise SpeechprocError(f"router class '{label}' has no utterances")
        x = np.stack([v for g in groups for v in g]).astype(np.float64)
        y = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups)])
        scaler = StandardScaler().fit(x)
        clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        clf.fit(scaler.transform(x), y)
        coef, intercept = clf.coef_, clf.intercept_
        if len(labels) == 2:  # sklearn keeps one row for two classes: p(class 1) = sigmoid(w x + b)
            coef = np.concatenate([-coef / 2.0, coef / 2.0])
            intercept = np.concatenate([-intercept / 2.0, intercept / 2.0])
        meta = {"c": c, "utterances": {label: len(g) for label, g in zip(labels, groups)}, **(info or {})}
        return cls(labels, scaler.mean_, scaler.scale_, coef, intercept, meta)

    def probabilities(self, states: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, len(labels))`` of pooled states ``(N, D)`` (or one vector)."""
        x = np.atleast_2d(np.asarray(states, dtype=np.float64))
        if x.shape[-1] != len(self.mean):
            raise SpeechprocError(f"routing states have {x.shape[-1]} features; the router was fitted on "
                                  f"{len(self.mean)} (another encoder?)")
        z = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def route(self, states: np.ndarray) -> str:
        """The most probable label of one utterance's pooled states."""
        return self.labels[int(self.probabilities(states)[0].argmax())]

    def route_all(self, states: Mapping[str, np.ndarray]) -> Dict[str, Tuple[str, float]]:
        """``{utt: (label, its probability)}``."""
        utts = list(states)
        if not utts:
            return {}
        p = self.probabilities(np.stack([states[u] for u in utts]))
        best = p.argmax(axis=1)
        return {u: (self.labels[int(k)], round(float(p[i, k]), 4)) for i, (u, k) in enumerate(zip(utts, best))}

    # ------------------------------------------------------------------ plain-data storage
    def save(self, path: PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"format_version": FORMAT_VERSION, "labels": self.labels, "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept.tolist(),
                "info": self.info}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: PathLike) -> "DomainRouter":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpeechprocError(f"{path}: no router file") from None
        except json.JSONDecodeError as e:
            raise SpeechprocError(f"{path}: not a router file (invalid JSON at line {e.lineno}); fit it again") from None
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise SpeechprocError(f"{path}: router format version {version}; this speechproc reads version "
                                  f"{FORMAT_VERSION}; fix: fit the router again with this version")
        missing = [k for k in ("labels", "mean", "scale", "coef", "intercept") if k not in data]
        if missing:
            raise SpeechprocError(f"{path}: router file lacks {missing}; fit it again")
        return cls(data["labels"], np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
                   np.array(data["intercept"]), data.get("info"))


def routed_texts(routes: Mapping[str, Tuple[str, float]], texts: Mapping[str, Mapping[str, str]]) -> List[Tuple[str, str]]:
    """``[(utt, text)]``: each utterance's hypothesis taken from the decoding of the label it was routed to
    (``texts``: label -> {utt: text}); a label without a decoding, or an utterance missing from it, is an error."""
    out = []
    for utt, (label, _) in routes.items():
        if label not in texts:
            raise SpeechprocError(f"utterance {utt} was routed to '{label}', which has no decoding")
        if utt not in texts[label]:
            raise SpeechprocError(f"utterance {utt} was routed to '{label}', whose decoding lacks it")
        out.append((utt, texts[label][utt]))
    return out
