"""Method 2 inference: a trained sequence-to-sequence VC exp (``task: vc``) as a waveform converter.

:class:`Seq2SeqConverter` has the interface of :class:`speechproc.vc.convert.VoiceConverter`
(``from_pretrained(exp_dir)``, ``__call__(wave, sample_rate) -> wave``, ``sample_rate``), so
``convert_vc`` and ``evaluate_vc`` treat both methods alike: the source is resampled to the mel
settings of the training dumps, converted free-running by :class:`~speechproc.models.vc.Seq2SeqVC`,
de-normalised with the target statistics and vocoded (Griffin-Lim by default).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np
import torch

from speechproc.utils import PathLike, SpeechprocError

__all__ = ["Seq2SeqConverter", "is_seq2seq_exp"]


def is_seq2seq_exp(exp_dir: PathLike) -> bool:
    """Whether ``exp_dir`` is a finished run of the shared trainer (``train.yaml`` + ``model.pt``)."""
    exp = Path(exp_dir)
    return (exp / "train.yaml").is_file() and (exp / "model.pt").is_file() and not (exp / "vc.json").is_file()


class Seq2SeqConverter:
    """Source waveform -> converted waveform with a trained :class:`~speechproc.models.vc.Seq2SeqVC`.

    Args:
        model, normalize_src, normalize: the trained modules (target CMVN ``normalize``).
        src_mel, tgt_mel: :class:`~speechproc.features.mel.MelConfig` of the source and target dumps.
        vocoder: ``auto`` (the GAN vocoder of ``vocoder_options["checkpoint"]`` when given, else
            Griffin-Lim), ``griffin_lim``, ``vocos`` or ``hifigan``, built on ``tgt_mel``.
        max_len_ratio: at most this many output frames per source frame.
        min_len_ratio: no stop before this many output frames per source frame (ESPnet's ``minlenratio``:
            a guard against a stop token that fires early).
        attention_window: ``(backward, forward)`` encoder steps around the previous attention peak that a
            decoder step may attend to (ESPnet's attention constraint); None: unconstrained.
    """

    def __init__(self, model, normalize_src, normalize, src_mel, tgt_mel, vocoder: str = "auto",
                 max_len_ratio: float = 3.0, min_len_ratio: float = 0.0,
                 attention_window: Optional[Sequence[int]] = None,
                 vocoder_options: Optional[Mapping[str, Any]] = None) -> None:
        from speechproc.decode.vocoder import make_vocoder

        self.model = model.eval()
        self.normalize_src = normalize_src.eval()
        self.normalize = normalize.eval()
        self.src_mel, self.tgt_mel = src_mel, tgt_mel
        self.vocoder = make_vocoder(vocoder, tgt_mel, **dict(vocoder_options or {}))
        self.max_len_ratio = max_len_ratio
        self.min_len_ratio = min_len_ratio
        if attention_window is not None and (len(attention_window) != 2 or min(attention_window) < 0):
            raise SpeechprocError(f"attention_window must be [backward, forward] (two non-negative ints), "
                                  f"got {attention_window!r}")
        self.attention_window = None if attention_window is None else (int(attention_window[0]),
                                                                          int(attention_window[1]))
        self.last: Dict[str, torch.Tensor] = {}

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, overrides: Optional[Mapping[str, Any]] = None) -> "Seq2SeqConverter":
        """Load a ``task: vc`` exp; ``overrides``: ``vocoder`` (name), ``vocoder_checkpoint`` (a GAN vocoder
        exp dir trained on the target dump's mel settings), ``max_len_ratio``, ``min_len_ratio``,
        ``attention_window`` (``[backward, forward]``)."""
        from speechproc.exp import load_trained_modules
        from speechproc.features.mel import load_mel_config

        overrides = dict(overrides or {})
        allowed = ("vocoder", "vocoder_checkpoint", "max_len_ratio", "min_len_ratio", "attention_window")
        bad = sorted(set(overrides) - set(allowed))
        if bad:
            raise SpeechprocError(f"conversion options {bad} do not apply to a sequence-to-sequence model; "
                                  f"allowed: {', '.join(allowed)}")
        hparams, modules = load_trained_modules(exp_dir)
        if hparams.get("task") != "vc" or not {"model", "normalize", "normalize_src"} <= set(modules):
            raise SpeechprocError(f"{exp_dir}/train.yaml: not a sequence-to-sequence VC run (task: vc with modules "
                                  f"model, normalize, normalize_src)")
        src_mel = load_mel_config(hparams["src_train_data"])
        tgt_mel = load_mel_config(hparams["tgt_train_data"])
        return cls(modules["model"], modules["normalize_src"], modules["normalize"], src_mel, tgt_mel,
                   overrides.get("vocoder", "auto"), float(overrides.get("max_len_ratio", 3.0)),
                   float(overrides.get("min_len_ratio", 0.0)), overrides.get("attention_window"),
                   {"checkpoint": overrides.get("vocoder_checkpoint")})

    @property
    def sample_rate(self) -> int:
        """Output sample rate (Hz): the target dump's."""
        return self.tgt_mel.sample_rate

    def convert_mel(self, wave: np.ndarray, sample_rate: int) -> torch.Tensor:
        """Converted log-mel ``(T, n_mels)`` (de-normalised); ``self.last`` keeps the attention."""
        from speechproc.data.audio import resample
        from speechproc.features.mel import compute_mel

        x = np.asarray(wave, dtype=np.float32)
        if sample_rate != self.src_mel.sample_rate:
            x = resample(x, sample_rate, self.src_mel.sample_rate)
        src = compute_mel(x, self.src_mel)[None]
        length = torch.tensor([src.shape[1]])
        with torch.no_grad():
            src, _ = self.normalize_src(src, length)
            mel, lengths, align = self.model.infer(src, length, max_len_ratio=self.max_len_ratio,
                                                   min_len_ratio=self.min_len_ratio,
                                                   attention_window=self.attention_window)
            n = int(lengths[0])
            mel = mel[0, :n] * self.normalize.std + self.normalize.mean
        self.last = {"mel": mel, "alignment": align[0]}
        return mel

    def __call__(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """Convert ``wave`` ``(N,)`` at ``sample_rate``; float32 at :attr:`sample_rate`."""
        if len(wave) == 0:
            return np.zeros(0, dtype=np.float32)
        y = np.asarray(self.vocoder(self.convert_mel(wave, sample_rate)), dtype=np.float32)
        peak = float(np.abs(y).max()) if len(y) else 0.0
        return y * (0.99 / peak) if peak > 0.99 else y
