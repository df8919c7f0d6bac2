"""Log-mel spectrograms for TTS (Tacotron 2 / HiFi-GAN convention) and their dump dirs.

Defaults (:class:`MelConfig`): 22,050 Hz, 1024-point FFT, 1024-sample Hann window, hop 256
(11.6 ms), 80 Slaney-style mel bins (``librosa.filters.mel`` with ``htk=False, norm='slaney'``)
from 0 to 8,000 Hz, magnitude (not power) spectrum, natural log with a floor of ``1e-5``; frames
are centred (reflect padding of ``n_fft // 2``), so ``T = 1 + len(wave) // hop``.

A mel dump dir is a feature dump like :mod:`speechproc.features.fbank`'s: the data dir files,
``feats.scp`` (``utt feats/<utt>.npy``, float32 ``(T, n_mels)``), ``utt2num_frames`` and
``mel.json`` (the :class:`MelConfig`). Normalisation statistics are the global CMVN stats of the
dump (``speechproc compute_cmvn_stats dump/train dump/train/cmvn.npz``), applied in the model by
:class:`~speechproc.features.cmvn.GlobalCMVN`.

>>> cfg = MelConfig()
>>> compute_mel(np.zeros(22050, dtype=np.float32), cfg).shape
torch.Size([87, 80])
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from speechproc.data.datadir import DataDir
from speechproc.features.dump import dump_features
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["MelConfig", "LogMel", "compute_mel", "mel_basis", "load_mel_config", "dump_mel", "num_mel_frames"]

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class MelConfig:
    """Settings of the TTS log-mel front end (see the module docstring)."""

    sample_rate: int = 22050
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        if self.win_length > self.n_fft:
            raise SpeechprocError(f"mel config: win_length {self.win_length} must not exceed n_fft {self.n_fft}")
        if not 0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise SpeechprocError(f"mel config: need 0 <= fmin < fmax <= sample_rate/2, got fmin {self.fmin}, "
                                  f"fmax {self.fmax}, sample_rate {self.sample_rate}")

    @property
    def frame_shift_s(self) -> float:
        """Hop in seconds."""
        return self.hop_length / self.sample_rate

    def to_dict(self) -> Dict[str, object]:
        """Plain dict (for ``mel.json``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, object], where: str = "mel config") -> "MelConfig":
        """Build from a dict, naming the unknown key and the file on error."""
        from speechproc.features.dump import settings_from_dict

        return settings_from_dict(cls, d, where, "mel")


def load_mel_config(path: Optional[PathLike]) -> MelConfig:
    """Read a :class:`MelConfig` from a yaml/json file or a mel dump dir (``mel.json``); None: defaults."""
    from speechproc.features.dump import load_settings

    if path is None:
        return MelConfig()
    return load_settings(MelConfig, path, "mel", "compute_mel")


_BASIS: Dict[Tuple[int, int, int, float, float], torch.Tensor] = {}


def mel_basis(config: MelConfig) -> torch.Tensor:
    """The ``(n_mels, n_fft // 2 + 1)`` Slaney mel filterbank (as ``librosa.filters.mel``)."""
    key = (config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
    if key not in _BASIS:
        import torchaudio

        fb = torchaudio.functional.melscale_fbanks(config.n_fft // 2 + 1, config.fmin, config.fmax, config.n_mels,
                                                   config.sample_rate, norm="slaney", mel_scale="slaney")
        _BASIS[key] = fb.T.contiguous()
    return _BASIS[key]


def num_mel_frames(num_samples: int, config: MelConfig) -> int:
    """Frames of a centred STFT of ``num_samples`` samples."""
    return 1 + num_samples // config.hop_length


class LogMel(torch.nn.Module):
    """Waveforms ``(B, N)`` -> log-mel ``(B, T, n_mels)`` with ``T = 1 + N // hop``."""

    def __init__(self, config: Optional[MelConfig] = None) -> None:
        super().__init__()
        self.config = config or MelConfig()
        self.register_buffer("basis", mel_basis(self.config).clone(), persistent=False)
        self.register_buffer("window", torch.hann_window(self.config.win_length), persistent=False)

    def magnitude(self, wave: torch.Tensor) -> torch.Tensor:
        """Linear magnitude spectrogram ``(B, T, n_fft // 2 + 1)``."""
        c = self.config
        spec = torch.stft(wave, c.n_fft, c.hop_length, c.win_length, self.window, center=True, pad_mode="reflect",
                          return_complex=True)
        return spec.abs().transpose(1, 2)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        mel = self.magnitude(wave) @ self.basis.T
        return torch.log(torch.clamp(mel, min=self.config.log_floor))


_MODULES: Dict[MelConfig, LogMel] = {}


def compute_mel(wave: Union[np.ndarray, torch.Tensor], config: Optional[MelConfig] = None) -> torch.Tensor:
    """Log-mel of one waveform ``(N,)`` (float, at ``config.sample_rate``): ``(T, n_mels)`` float32."""
    config = config or MelConfig()
    if config not in _MODULES:
        _MODULES[config] = LogMel(config)
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32)) if not isinstance(wave, torch.Tensor) else wave.float()
    if x.dim() != 1:
        raise ValueError(f"compute_mel expects a mono waveform (N,), got shape {tuple(x.shape)}")
    if x.shape[0] <= config.n_fft // 2:
        x = torch.nn.functional.pad(x, (0, config.n_fft // 2 + 1 - x.shape[0]))
    with torch.no_grad():
        return _MODULES[config](x[None])[0]


def _mel_numpy(wave: np.ndarray, config: MelConfig) -> np.ndarray:
    """Log-mel of one utterance for :func:`~speechproc.features.dump.dump_features`."""
    return compute_mel(wave, config).numpy()


def dump_mel(data_dir: PathLike, dump_dir: PathLike, config: Optional[MelConfig] = None, nj: int = 1) -> DataDir:
    """Compute the log-mel of every utterance of ``data_dir`` into the dump dir ``dump_dir``.

    Audio at another rate is resampled to ``config.sample_rate``. The dump dir is written under a
    temporary name and renamed when complete.

    Returns:
        the :class:`~speechproc.data.datadir.DataDir` of the dump dir.
    """
    config = config or MelConfig()
    return dump_features(data_dir, dump_dir, "mel", _mel_numpy, config, config.to_dict(),
                         sample_rate=config.sample_rate, nj=nj)
