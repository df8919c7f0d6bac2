"""Vocoders: log-mel ``(T, n_mels)`` -> waveform ``(N,)``, behind one interface.

- ``griffin_lim`` (:class:`GriffinLimVocoder`): the mel magnitudes are mapped back to a linear
  spectrogram with the pseudo-inverse of the mel filterbank (clamped at ``1e-10``, as ESPnet),
  optionally sharpened (``magnitude ** power``), and phase is recovered by torchaudio's
  (fast) Griffin-Lim from a seeded random phase. Needs no training.
- ``vocos`` / ``hifigan`` (:class:`GANVocoder`): a trained GAN vocoder from a vocoder experiment dir
  of the trainer (``task: vocoder``, :mod:`speechproc.tasks.vocoder`): the Vocos-style ConvNeXt +
  inverse-STFT generator of :mod:`speechproc.models.vocos` or SpeechBrain's ``HifiganGenerator``
  (lobes), whichever the experiment trained; a HiFi-GAN also loads from a file holding
  ``{"generator": state_dict, "config": generator kwargs}``.
- ``auto``: the GAN vocoder when a checkpoint is given, else Griffin-Lim.

Both take the *unnormalised* natural-log mel of :mod:`speechproc.features.mel` and return float32
audio at ``mel_config.sample_rate``. :func:`make_vocoder` builds one by name.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np
import torch

from speechproc.features.mel import MelConfig, mel_basis
from speechproc.utils import PathLike, SpeechprocError, load_weights

__all__ = ["Vocoder", "GriffinLimVocoder", "GANVocoder", "VOCODERS", "make_vocoder"]

logger = logging.getLogger(__name__)



class Vocoder:
    """Interface: ``vocoder(mel (T, n_mels) log-mel) -> waveform (N,) float32 numpy``."""

    name = "base"

    def __init__(self, mel_config: Optional[MelConfig] = None) -> None:
        self.mel_config = mel_config or MelConfig()

    @property
    def sample_rate(self) -> int:
        """Output sample rate (Hz)."""
        return self.mel_config.sample_rate

    def __call__(self, mel: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
        m = torch.as_tensor(np.asarray(mel, dtype=np.float32)) if not isinstance(mel, torch.Tensor) else mel
        m = m.detach().float().cpu()
        if m.dim() != 2 or m.shape[1] != self.mel_config.n_mels:
            raise SpeechprocError(f"{self.name} vocoder: expected a log-mel (T, {self.mel_config.n_mels}), "
                                  f"got shape {tuple(m.shape)}")
        c = self.mel_config
        n = m.shape[0]
        short = max(0, c.n_fft // c.hop_length + 1 - n)  # the STFT needs a few frames: pad with silence
        if short:
            floor = float(m.min()) if n else float(np.log(c.log_floor))
            m = torch.cat([m, torch.full((short, m.shape[1]), floor)], dim=0)
        with torch.no_grad():
            wave = self.synthesize(m)
        if short:
            wave = wave[: n * c.hop_length]
        return wave.numpy().astype(np.float32, copy=False)

    def synthesize(self, mel: torch.Tensor) -> torch.Tensor:
        """``(T, n_mels)`` -> ``(N,)``; implemented by each vocoder."""
        raise NotImplementedError


class GriffinLimVocoder(Vocoder):
    """Mel pseudo-inverse + Griffin-Lim (torchaudio).

    Args:
        mel_config: the mel settings the spectrogram was computed with.
        n_iter: Griffin-Lim iterations (ESPnet's default 32).
        momentum: fast Griffin-Lim momentum (0.99 as torchaudio's default).
        power: exponent applied to the linear magnitude before phase recovery (1.0: none; Tacotron
            used 1.5 to reduce the buzz of over-smoothed spectra).
        seed: seed of the random initial phase (results are deterministic).
    """

    name = "griffin_lim"

    def __init__(self, mel_config: Optional[MelConfig] = None, n_iter: int = 32, momentum: float = 0.99,
                 power: float = 1.0, seed: int = 0) -> None:
        super().__init__(mel_config)
        c = self.mel_config
        self.n_iter = int(n_iter)
        self.momentum = float(momentum)
        self.power = float(power)
        self.seed = int(seed)
        self.inverse = torch.linalg.pinv(mel_basis(c))  # (F, n_mels)
        self.window = torch.hann_window(c.win_length)

    def linear(self, mel: torch.Tensor) -> torch.Tensor:
        """Linear magnitude ``(F, T)`` from a log-mel ``(T, n_mels)``."""
        mag = torch.clamp(self.inverse @ torch.exp(mel).T, min=1e-10)
        return mag ** self.power if self.power != 1.0 else mag

    def synthesize(self, mel: torch.Tensor) -> torch.Tensor:
        import torchaudio

        c = self.mel_config
        mag = self.linear(mel)
        with torch.random.fork_rng(devices=[]):  # a fixed random initial phase, the global RNG untouched
            torch.manual_seed(self.seed)
            wave = torchaudio.functional.griffinlim(mag, self.window, c.n_fft, c.hop_length, c.win_length, 1.0,
                                                    self.n_iter, self.momentum, None, True)
        peak = wave.abs().max()
        return wave / peak * 0.95 if peak > 0.95 else wave


class GANVocoder(Vocoder):
    """A trained GAN vocoder's generator (Vocos-style or HiFi-GAN), fed the log-mel as ``(1, n_mels, T)``.

    ``checkpoint`` is either an experiment dir of the trainer (``task: vocoder``; its ``model.pt``
    holds the generator, its training dump's ``mel.json`` the features it was trained on) or a
    standalone HiFi-GAN file ``{"generator": state_dict, "config": HifiganGenerator kwargs}``.
    A vocoder trained on other mel settings than the acoustic model's is refused. ``name`` is
    ``vocos`` or ``hifigan`` after the generator that loaded.
    """

    name = "gan"

    def __init__(self, checkpoint: PathLike, mel_config: Optional[MelConfig] = None, device: str = "cpu") -> None:
        path = Path(checkpoint)
        if path.is_dir():
            from speechproc.exp import load_trained_modules
            from speechproc.features.mel import load_mel_config

            hparams, modules = load_trained_modules(path, device=device)
            if "generator" not in modules:
                raise SpeechprocError(f"{path}: not a vocoder experiment (no 'generator' module in train.yaml)")
            trained_on = load_mel_config(hparams["train_data"])
            if mel_config is not None and trained_on != mel_config:
                raise SpeechprocError(
                    f"{path}: the vocoder was trained on mel settings {trained_on.to_dict()} but the acoustic model "
                    f"uses {mel_config.to_dict()}; train the vocoder on the acoustic model's dump")
            super().__init__(trained_on)
            self.generator = modules["generator"]
            self.checkpoint = str(path)
        else:
            super().__init__(mel_config)
            from speechbrain.lobes.models.HifiGAN import HifiganGenerator

            if not path.is_file():
                raise SpeechprocError(f"{path}: HiFi-GAN checkpoint not found; train one (task: vocoder) or use "
                                      f"--vocoder griffin_lim")
            ckpt = load_weights(path)
            if not isinstance(ckpt, dict) or "generator" not in ckpt or "config" not in ckpt:
                raise SpeechprocError(f"{path}: not a HiFi-GAN vocoder checkpoint (needs keys 'generator' and "
                                      f"'config', or a vocoder experiment dir)")
            self.generator = HifiganGenerator(**ckpt["config"]).to(device)
            self.generator.load_state_dict(ckpt["generator"])
            self.checkpoint = str(path)
        from speechproc.models.vocos import VocosGenerator

        self.name = "vocos" if isinstance(self.generator, VocosGenerator) else "hifigan"
        self.generator.eval()
        self.generator.remove_weight_norm()
        self.device = device

    def synthesize(self, mel: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            wave = self.generator(mel.T[None].to(self.device))[0, 0].cpu()
        return wave.clamp(-1.0, 1.0)


VOCODERS = ("auto", "griffin_lim", "vocos", "hifigan")
_GRIFFIN_LIM_KEYS = ("n_iter", "momentum", "power", "seed")


def make_vocoder(name: str, mel_config: Optional[MelConfig] = None, **kwargs: object) -> Vocoder:
    """A vocoder by name: ``griffin_lim`` (kwargs ``n_iter``, ``power``, ...), ``vocos`` / ``hifigan``
    (kwarg ``checkpoint``: a vocoder experiment dir), or ``auto`` (the GAN vocoder when ``checkpoint``
    is set, else Griffin-Lim)."""
    if name == "auto":
        name = "vocos" if kwargs.get("checkpoint") else "griffin_lim"
    if name == "griffin_lim":
        return GriffinLimVocoder(mel_config, **{k: v for k, v in kwargs.items()  # type: ignore[arg-type]
                                                if k in _GRIFFIN_LIM_KEYS})
    if name in ("vocos", "hifigan"):
        if not kwargs.get("checkpoint"):
            raise SpeechprocError(f"vocoder {name} needs a trained vocoder (--vocoder-checkpoint EXP_DIR, e.g. "
                                  f"egs/ljspeech_teacher/tts/exp/vocos), or use --vocoder griffin_lim")
        return GANVocoder(mel_config=mel_config, checkpoint=kwargs["checkpoint"],  # type: ignore[arg-type]
                          device=str(kwargs.get("device", "cpu")))
    raise SpeechprocError(f"unknown vocoder '{name}'; choose one of: {', '.join(VOCODERS)}")


def vocoder_options(vocoder: Vocoder) -> Dict[str, object]:
    """The settings of a vocoder (for decode/synthesis records)."""
    if isinstance(vocoder, GriffinLimVocoder):
        return {"vocoder": vocoder.name, "n_iter": vocoder.n_iter, "momentum": vocoder.momentum,
                "power": vocoder.power}
    return {"vocoder": vocoder.name, "checkpoint": getattr(vocoder, "checkpoint", None)}
