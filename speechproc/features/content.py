"""Recognition-synthesis VC inputs: what is said (pretrained Whisper encoder states) and how it is
intoned (log-F0), at the frame rate of the TTS log-mel they are decoded into.

One utterance gives a ``(T_mel, C + 2)`` float32 array: ``C`` content dimensions (the hidden states
after encoder layer ``layer`` of a Whisper model, 50 frames/s, linearly interpolated to the mel
frame times), then the continuous log-F0 (WORLD DIO + StoneMask, unvoiced frames filled by linear
interpolation between voiced ones) and the voicing flag (1 voiced, 0 not). ``T_mel`` is the
number of frames :func:`speechproc.features.mel.num_mel_frames` gives for the same audio at the
mel config's rate, so the array lines up with the mel dump of the same data dir.

The Whisper encoder runs on the utterance itself, not on 30 s of zero padding: its log-mel is cut
to the audio's length and the sinusoidal position table to the frames present (as the Whisper
content encoders of open-source VC systems do); utterances longer than 30 s are encoded in
30-s pieces.

``speechproc compute_content --layer 4 data/train dump/train_content`` writes a dump dir
(:mod:`speechproc.features.dump`, kind ``content``: ``content.json`` holds these settings).
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch

from speechproc.features.mel import MelConfig, num_mel_frames
from speechproc.utils import PathLike, SpeechprocError

__all__ = ["ContentConfig", "WhisperContentEncoder", "content_config_of", "log_f0_track", "compute_content", "dump_content",
           "load_content_config", "MIN_SECONDS", "ANALYSIS_RATE"]

logger = logging.getLogger(__name__)

#: Rate of the Whisper encoder and the F0 analysis.
ANALYSIS_RATE = 16000
#: Shortest audio the encoder takes: two Whisper frames (the stride-2 convolution gives one state).
MIN_SECONDS = 0.05
_WHISPER_HOP = 160
_WHISPER_SHIFT_S = 0.02   # one encoder state per 2 log-mel frames of 10 ms
_MAX_FRAMES = 3000        # 30 s of Whisper log-mel


@dataclass(frozen=True)
class ContentConfig:
    """Settings of the content + F0 features (``content.json`` of a dump; ``compute_content`` options).

    ``whisper``: ``tiny.en``/``base`` (the offline packages) or a local checkpoint; ``layer``: encoder
    layer whose output is the content (``0`` the input embedding, ``n_layers`` the final, layer-normed
    output); ``mel_sample_rate``/``mel_hop_length``: the frame grid of the mel the features line up with;
    ``f0_floor``/``f0_ceil``: the WORLD F0 search range (Hz).
    """

    whisper: str = "tiny.en"
    layer: int = 4
    mel_sample_rate: int = 22050
    mel_hop_length: int = 256
    f0_floor: float = 60.0
    f0_ceil: float = 700.0

    def __post_init__(self) -> None:
        if self.layer < 0:
            raise SpeechprocError(f"content config: layer must be >= 0, got {self.layer}")
        if not 0 < self.f0_floor < self.f0_ceil:
            raise SpeechprocError(f"content config: need 0 < f0_floor < f0_ceil, got {self.f0_floor}, {self.f0_ceil}")

    @property
    def frame_shift_s(self) -> float:
        return self.mel_hop_length / self.mel_sample_rate

    def mel_config(self, base: Optional[MelConfig] = None) -> MelConfig:
        """``base`` (default :class:`MelConfig`) on this config's frame grid."""
        return dataclasses.replace(base or MelConfig(), sample_rate=self.mel_sample_rate,
                                   hop_length=self.mel_hop_length)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def for_mel(cls, mel: MelConfig, **kwargs: Any) -> "ContentConfig":
        """A config on the frame grid of ``mel``."""
        return cls(mel_sample_rate=mel.sample_rate, mel_hop_length=mel.hop_length, **kwargs)


def load_content_config(path: PathLike) -> ContentConfig:
    """Read a :class:`ContentConfig` from a content dump dir (``content.json``) or a yaml/json file."""
    from speechproc.features.dump import load_settings

    return load_settings(ContentConfig, path, "content", "compute_content")


def content_config_of(path: PathLike) -> ContentConfig:
    """The :class:`ContentConfig` of a content dump dir, or of the content dump a ``task: recsynth`` exp dir was
    trained on (its ``train.yaml`` key ``train_data``)."""
    from pathlib import Path

    from speechproc.exp import exp_settings

    p = Path(path)
    if (p / "content.json").is_file():
        return load_content_config(p)
    if (p / "train.yaml").is_file():
        hp = exp_settings(p)
        if hp.get("task") == "recsynth" and hp.get("train_data"):
            return load_content_config(str(hp["train_data"]))
    raise SpeechprocError(f"{p}: neither a content dump dir (content.json) nor a recsynth exp dir (train.yaml with "
                          f"task: recsynth); train the decoder first (egs/ljspeech_teacher/tts stage 21)")


class WhisperContentEncoder(torch.nn.Module):
    """The first ``layer`` layers of a Whisper encoder on unpadded audio: ``(N,)`` 16 kHz -> ``(T50, C)``."""

    def __init__(self, whisper: str = "tiny.en", layer: int = 4) -> None:
        super().__init__()
        from transformers import WhisperModel

        from speechproc.models.pretrained.whisper import resolve_whisper

        model = WhisperModel.from_pretrained(resolve_whisper(whisper))
        enc = model.encoder
        n_layers = len(enc.layers)
        if layer > n_layers:
            raise SpeechprocError(f"content config: layer {layer} > the {n_layers} encoder layers of Whisper "
                                  f"'{whisper}'; choose 0..{n_layers}")
        self.conv1, self.conv2 = enc.conv1, enc.conv2
        self.positions = enc.embed_positions.weight.detach()
        self.layers = torch.nn.ModuleList(enc.layers[:layer])
        self.final_norm = enc.layer_norm if layer == n_layers else None
        self.dim = int(enc.config.d_model)
        self.n_mels = int(enc.config.num_mel_bins)
        self.layer = layer
        self.eval().requires_grad_(False)

    def log_mel(self, audio: np.ndarray) -> torch.Tensor:
        """Whisper's log-mel of ``audio`` ``(n_mels, frames)``, cut to the audio's length (even frame count)."""
        from speechproc.models.pretrained.whisper import whisper_features

        feats = whisper_features(audio, mode="hf", n_mels=self.n_mels)
        frames = min(_MAX_FRAMES, max(2, -(-len(audio) // _WHISPER_HOP)))
        frames += frames % 2
        return torch.from_numpy(feats[:, :frames])

    @torch.no_grad()
    def forward(self, audio: np.ndarray) -> torch.Tensor:
        """Content states ``(T50, C)`` of ``audio`` (16 kHz), ``T50 = ceil(len / 320)``; longer than 30 s:
        encoded in 30-s pieces."""
        piece = _MAX_FRAMES * _WHISPER_HOP
        if len(audio) > piece:
            return torch.cat([self.forward(audio[i:i + piece]) for i in range(0, len(audio), piece)])
        x = self.log_mel(audio)[None]
        x = torch.nn.functional.gelu(self.conv1(x))
        x = torch.nn.functional.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.positions[: x.shape[1]]
        for layer in self.layers:
            out = layer(x, attention_mask=None, layer_head_mask=None)
            x = out[0] if isinstance(out, tuple) else out
        if self.final_norm is not None:
            x = self.final_norm(x)
        n = -(-len(audio) // (2 * _WHISPER_HOP))
        return x[0, :n]


def _interp_frames(x: torch.Tensor, shift_in: float, n_out: int, shift_out: float) -> torch.Tensor:
    """Resample frames ``(T, C)`` at times ``i * shift_in`` to ``n_out`` frames at ``j * shift_out`` (linear,
    held at the ends)."""
    pos = torch.arange(n_out, dtype=torch.float64) * (shift_out / shift_in)
    pos = pos.clamp(0, x.shape[0] - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=x.shape[0] - 1)
    w = (pos - lo).to(x.dtype)[:, None]
    return x[lo] * (1 - w) + x[hi] * w


def log_f0_track(audio: np.ndarray, sample_rate: int, n_frames: int, frame_shift_s: float,
                 f0_floor: float = 60.0, f0_ceil: float = 700.0) -> np.ndarray:
    """``(n_frames, 2)``: continuous log-F0 (unvoiced frames interpolated between voiced neighbours, held at
    the ends; all unvoiced: 0) and the voicing flag, from WORLD DIO + StoneMask at ``frame_shift_s``."""
    from speechproc.features.pitch import world_f0

    f0 = world_f0(audio, sample_rate, 1000.0 * frame_shift_s, n_frames, f0_floor, f0_ceil)
    voiced = f0 > 0
    out = np.zeros((n_frames, 2), dtype=np.float32)
    if voiced.any():
        idx = np.flatnonzero(voiced)
        out[:, 0] = np.interp(np.arange(n_frames), idx, np.log(f0[idx]))
    out[:, 1] = voiced
    return out


_ENCODERS: Dict[Tuple[str, int], WhisperContentEncoder] = {}


def _encoder(config: ContentConfig) -> WhisperContentEncoder:
    key = (config.whisper, config.layer)
    if key not in _ENCODERS:
        _ENCODERS.clear()
        _ENCODERS[key] = WhisperContentEncoder(config.whisper, config.layer)
    return _ENCODERS[key]


def compute_content(wave: np.ndarray, config: ContentConfig, sample_rate: int = ANALYSIS_RATE,
                    where: str = "audio") -> Optional[np.ndarray]:
    """``(T_mel, C + 2)`` content + log-F0 + voicing of one mono utterance (see the module docstring);
    None when it is shorter than :data:`MIN_SECONDS` (too short for the encoder)."""
    from speechproc.data.audio import resample

    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1:
        raise SpeechprocError(f"{where}: expected mono audio (N,), got shape {tuple(x.shape)}; "
                              f"mix it down (e.g. sox in.wav -c 1 out.wav)")
    if sample_rate != ANALYSIS_RATE:
        x = resample(x, sample_rate, ANALYSIS_RATE)
    if len(x) < MIN_SECONDS * ANALYSIS_RATE:
        return None
    n_mel = num_mel_frames(int(round(len(x) * config.mel_sample_rate / ANALYSIS_RATE)), config.mel_config())
    content = _encoder(config)(x)
    content = _interp_frames(content, _WHISPER_SHIFT_S, n_mel, config.frame_shift_s).numpy()
    f0 = log_f0_track(x, ANALYSIS_RATE, n_mel, config.frame_shift_s, config.f0_floor, config.f0_ceil)
    return np.concatenate([content, f0], axis=1).astype(np.float32)


def dump_content(data_dir: PathLike, dump_dir: PathLike, config: ContentConfig, nj: int = 1):
    """Write the content dump of ``data_dir`` (kind ``content``) to ``dump_dir``; returns its data dir."""
    from speechproc.features.dump import dump_features

    return dump_features(data_dir, dump_dir, "content", compute_content, config, config.to_dict(),
                         sample_rate=ANALYSIS_RATE, nj=nj)
