"""Recognition-synthesis VC inference: a trained ``task: recsynth`` exp as a waveform converter.

:class:`RecSynthConverter` has the interface of :class:`speechproc.vc.convert.VoiceConverter`
(``from_pretrained(exp_dir)``, ``__call__(wave, sample_rate) -> wave``, ``sample_rate``). Any source
speaker converts (no parallel data, no source model): the source is resampled to 16 kHz, its content
states and log-F0 are extracted as in training (:mod:`speechproc.features.content`), the log-F0 of
voiced frames goes through the linear transform
``lf0' = mu_t + sigma_t / sigma_s (lf0 - mu_s)`` (``mu_s``, ``sigma_s``: the source utterance's own
statistics by default, or given; ``mu_t``, ``sigma_t``: the voiced frames of the decoder's training
data, the target speaker's, kept in the exp dir's ``target_f0.json``), the decoder predicts the
target's log-mel, and a vocoder makes the waveform: the exp's own ``vocoder/`` when it has one (a GAN
vocoder fine-tuned on this decoder's predictions, see ``speechproc predict_mel``), else
``vocoder_checkpoint`` of its config (a GAN vocoder exp on the same mel settings), else Griffin-Lim.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["RecSynthConverter", "log_f0_stats", "transform_log_f0", "CONVERSION_OPTIONS"]

logger = logging.getLogger(__name__)

#: ``convert_vc --set`` options of a recsynth exp.
CONVERSION_OPTIONS = ("vocoder", "vocoder_checkpoint", "source_f0", "f0_transform")


def log_f0_stats(feats: np.ndarray) -> Tuple[float, float]:
    """(mean, std) of the log-F0 of the voiced frames of content features ``(T, C + 2)``."""
    lf0 = feats[feats[:, -1] > 0.5, -2]
    if len(lf0) < 2:
        raise SpeechprocError("no voiced frames: the audio has no pitch to transform (silence or noise?)")
    return float(lf0.mean()), float(max(lf0.std(), 1e-3))


def transform_log_f0(feats: np.ndarray, src: Tuple[float, float], tgt: Tuple[float, float]) -> np.ndarray:
    """``feats`` with the continuous log-F0 column mapped linearly from ``src`` (mean, std) to ``tgt``."""
    out = feats.copy()
    lf0 = out[:, -2]
    has = lf0 > 0
    out[has, -2] = tgt[0] + (tgt[1] / src[1]) * (lf0[has] - src[0])
    return out


class RecSynthConverter:
    """Source waveform -> target-speaker waveform with a trained :class:`~speechproc.models.vc.ContentDecoder`.

    Args:
        model, normalize: the trained decoder and its mel normaliser.
        content: :class:`~speechproc.features.content.ContentConfig` of the training dump.
        mel: :class:`~speechproc.features.mel.MelConfig` of the training mel dump.
        target_f0: (mean, std) of the target's voiced log-F0.
        vocoder: ``auto`` (``vocoder_checkpoint`` when set, else Griffin-Lim), ``griffin_lim``, ``vocos``, ``hifigan``.
        vocoder_checkpoint: a GAN vocoder exp trained on ``mel``'s settings (checked when loading).
        source_f0: (mean, std) of the source speaker's voiced log-F0; None: each utterance's own.
        f0_transform: ``linear`` (mean and variance) or ``none`` (the source's F0 as it is).
    """

    def __init__(self, model, normalize, content, mel, target_f0: Tuple[float, float], vocoder: str = "auto",
                 vocoder_checkpoint: Optional[str] = None, source_f0: Optional[Tuple[float, float]] = None,
                 f0_transform: str = "linear") -> None:
        from speechproc.decode.vocoder import make_vocoder

        if f0_transform not in ("linear", "none"):
            raise SpeechprocError(f"f0_transform '{f0_transform}' must be linear or none")
        self.model, self.normalize = model.eval(), normalize.eval()
        self.content, self.mel = content, mel
        self.target_f0 = tuple(float(v) for v in target_f0)
        self.source_f0 = None if source_f0 is None else tuple(float(v) for v in source_f0)
        self.f0_transform = f0_transform
        self.vocoder = make_vocoder(vocoder, mel, checkpoint=vocoder_checkpoint)
        self.last: Dict[str, Any] = {}

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, overrides: Optional[Mapping[str, Any]] = None) -> "RecSynthConverter":
        """Load a ``task: recsynth`` exp; ``overrides``: :data:`CONVERSION_OPTIONS` (``source_f0``: ``[mean, std]``
        of the source's voiced log-F0)."""
        from speechproc.exp import load_trained_modules, resolve_exp_dir
        from speechproc.features.content import load_content_config
        from speechproc.features.mel import load_mel_config

        exp_dir = resolve_exp_dir(exp_dir)
        overrides = dict(overrides or {})
        bad = sorted(set(overrides) - set(CONVERSION_OPTIONS))
        if bad:
            raise SpeechprocError(f"conversion options {bad} do not apply to a recognition-synthesis model; "
                                  f"allowed: {', '.join(CONVERSION_OPTIONS)}")
        hparams, modules = load_trained_modules(exp_dir)
        if hparams.get("task") != "recsynth" or not {"model", "normalize"} <= set(modules):
            raise SpeechprocError(f"{exp_dir}/train.yaml: not a recognition-synthesis VC run (task: recsynth with "
                                  f"modules model, normalize)")
        content = load_content_config(hparams["train_data"])
        mel = load_mel_config(hparams["train_mel"])
        src = overrides.get("source_f0")
        if src is not None and (not isinstance(src, (list, tuple)) or len(src) != 2 or float(src[1]) <= 0):
            raise SpeechprocError(f"source_f0 must be [mean, std] of the source's voiced log-F0 (std > 0), got {src!r}")
        own = Path(exp_dir) / "vocoder"  # the vocoder fine-tuned on this decoder's predictions (the VC recipes)
        default = str(own) if (own / "model.pt").is_file() else hparams.get("vocoder_checkpoint")
        checkpoint = overrides.get("vocoder_checkpoint", default)
        stats_file = Path(exp_dir) / "target_f0.json"
        if not stats_file.is_file():
            raise SpeechprocError(f"{stats_file}: not found; the trainer writes it when a recsynth run starts: "
                                  f"train the model again (speechproc.bin.train)")
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
        target = (stats["log_f0_mean"], stats["log_f0_std"])
        return cls(modules["model"], modules["normalize"], content, mel, target,
                   overrides.get("vocoder", "auto"), checkpoint, src, overrides.get("f0_transform", "linear"))

    @property
    def sample_rate(self) -> int:
        """Output sample rate (Hz): the mel's."""
        return self.mel.sample_rate

    def features(self, wave: np.ndarray, sample_rate: int, where: str = "source") -> np.ndarray:
        """Content + transformed log-F0 ``(T, C + 2)`` of the source (errors name ``where``)."""
        from speechproc.features.content import ANALYSIS_RATE, MIN_SECONDS, compute_content

        x = np.asarray(wave, dtype=np.float32)
        if x.ndim != 1:
            raise SpeechprocError(f"{where}: expected mono audio, got shape {tuple(x.shape)}; mix it down first "
                                  f"(e.g. sox in.wav -c 1 out.wav)")
        if sample_rate < ANALYSIS_RATE:
            raise SpeechprocError(f"{where}: sample rate {sample_rate} Hz is below the {ANALYSIS_RATE} Hz the content "
                                  f"encoder was trained on; upsampled audio lacks the band it reads; give "
                                  f">= {ANALYSIS_RATE} Hz recordings")
        feats = compute_content(x, self.content, sample_rate, where=where)
        if feats is None:
            raise SpeechprocError(f"{where}: {len(x) / sample_rate:.3f} s is too short for the content encoder "
                                  f"(at least {MIN_SECONDS} s)")
        if float(np.abs(x).max()) < 1e-4 or not (feats[:, -1] > 0.5).any():
            raise SpeechprocError(f"{where}: no voiced frame found (silent or noise-only audio); nothing to convert")
        if self.f0_transform == "linear":
            src = self.source_f0 or log_f0_stats(feats)
            feats = transform_log_f0(feats, src, self.target_f0)
        return feats

    def decode(self, feats: np.ndarray) -> torch.Tensor:
        """The decoder's log-mel ``(T, n_mels)`` (de-normalised) of content features ``(T, C + 2)``."""
        with torch.no_grad():
            mel = self.model(torch.from_numpy(feats)[None])[0]
            return mel * self.normalize.std + self.normalize.mean

    def convert_mel(self, wave: np.ndarray, sample_rate: int, where: str = "source") -> torch.Tensor:
        """Converted log-mel ``(T, n_mels)`` (de-normalised)."""
        mel = self.decode(self.features(wave, sample_rate, where))
        self.last = {"mel": mel}
        return mel

    def __call__(self, wave: np.ndarray, sample_rate: int, where: str = "source") -> np.ndarray:
        """Convert ``wave`` ``(N,)`` at ``sample_rate``; float32 at :attr:`sample_rate`."""
        y = np.asarray(self.vocoder(self.convert_mel(wave, sample_rate, where)), dtype=np.float32)
        peak = float(np.abs(y).max()) if len(y) else 0.0
        return y * (0.99 / peak) if peak > 0.99 else y
