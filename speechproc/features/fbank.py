"""Kaldi-compatible log-mel filterbank features, on the fly or dumped to disk.

Features come from ``torchaudio.compliance.kaldi.fbank`` (the same numbers as Kaldi's
``compute-fbank-feats`` on 16-bit audio: waveforms in [-1, 1] are scaled by 32768 first).
With ``snip_edges=True`` (Kaldi's default) an utterance of ``T`` samples has
``1 + (T - frame_length) // frame_shift`` frames (``1 + (T - 400) // 160`` at 16 kHz, 25/10 ms),
and none when ``T < frame_length`` (in both modes).

Two ways to use them:

- on the fly: :class:`Fbank`, a ``torch.nn.Module`` for a model's ``compute_forward``,
  ``(B, T)`` waveforms + lengths -> ``(B, T', D)`` features + lengths;
- dumped: :func:`dump_fbank` (verb ``compute_fbank DATA_DIR DUMP_DIR``) writes a dump dir
  (layout in :mod:`speechproc.features.dump`, settings in ``fbank.json``), read back with
  :class:`~speechproc.features.dump.FeatureStore`.

Paths in ``feats.scp`` are absolute (as in Kaldi), so subsets of the dump dir saved elsewhere
keep pointing at the same arrays; a relative path is resolved against the ``feats.scp`` folder.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np
import torch

from speechproc.data.datadir import DataDir
from speechproc.features.dump import FeatureStore, dump_features, read_scp
from speechproc.utils import PathLike, SpeechprocError

__all__ = [
    "FbankConfig",
    "Fbank",
    "num_frames",
    "compute_fbank",
    "fbank_of_utt",
    "dump_fbank",
    "FeatureStore",
    "read_scp",
    "load_fbank_config",
    "FBANK_OPTIONS",
    "add_fbank_arguments",
    "fbank_config_from_args",
]

logger = logging.getLogger(__name__)


_WINDOW_TYPES = ("hamming", "hanning", "povey", "rectangular", "blackman")


@dataclass
class FbankConfig:
    """Settings of Kaldi's ``compute-fbank-feats`` (same names and defaults, except noted).

    Attributes:
        num_mel_bins: number of mel bins (feature dimension); Kaldi's default is 23, ours 80.
        sample_rate: sample rate the features are computed at (Hz).
        frame_length: window length in ms.
        frame_shift: hop in ms.
        dither: Gaussian dither on the int16 scale; 0 (ours) makes features deterministic.
            Kaldi's default is 1.0. :class:`Fbank` dithers only in training mode.
        energy_floor: floor on the energy (only used with ``use_energy``); Kaldi's default 0.
        low_freq: low cut-off of the mel bins (Hz).
        high_freq: high cut-off (Hz); <= 0 means offset from Nyquist.
        preemphasis_coefficient: pre-emphasis factor.
        remove_dc_offset: subtract each frame's mean.
        window_type: "povey", "hamming", "hanning", "rectangular" or "blackman".
        round_to_power_of_two: FFT size rounded up to a power of two.
        snip_edges: only frames that fit completely in the signal (Kaldi's default).
        use_energy: add the log energy as an extra first dimension.
        raw_energy: energy before pre-emphasis and windowing.
        use_log_fbank: log of the mel energies.
        use_power: power spectrum (else magnitude).
        htk_compat: HTK feature order.
        scale: the waveform is multiplied by this first; 32768 maps [-1, 1] to Kaldi's int16 range.
    """

    num_mel_bins: int = 80
    sample_rate: int = 16000
    frame_length: float = 25.0
    frame_shift: float = 10.0
    dither: float = 0.0
    energy_floor: float = 0.0
    low_freq: float = 20.0
    high_freq: float = 0.0
    preemphasis_coefficient: float = 0.97
    remove_dc_offset: bool = True
    window_type: str = "povey"
    round_to_power_of_two: bool = True
    snip_edges: bool = True
    use_energy: bool = False
    raw_energy: bool = True
    use_log_fbank: bool = True
    use_power: bool = True
    htk_compat: bool = False
    scale: float = 32768.0

    def __post_init__(self) -> None:
        if self.num_mel_bins < 1:
            raise SpeechprocError(f"fbank: num_mel_bins must be >= 1, got {self.num_mel_bins}")
        if self.sample_rate <= 0:
            raise SpeechprocError(f"fbank: sample_rate must be positive, got {self.sample_rate}")
        if self.frame_shift <= 0 or self.frame_length <= 0:
            raise SpeechprocError(
                f"fbank: frame_length ({self.frame_length} ms) and frame_shift ({self.frame_shift} ms) must be positive"
            )
        if self.window_type not in _WINDOW_TYPES:
            raise SpeechprocError(
                f"fbank: window_type '{self.window_type}' unknown; use one of {', '.join(_WINDOW_TYPES)}"
            )
        nyquist = self.sample_rate / 2
        high = self.high_freq if self.high_freq > 0 else nyquist + self.high_freq
        if not 0 <= self.low_freq < high <= nyquist:
            raise SpeechprocError(
                f"fbank: need 0 <= low_freq ({self.low_freq}) < high_freq ({high}) <= Nyquist ({nyquist}) "
                f"at sample_rate {self.sample_rate}; fix low_freq/high_freq"
            )

    @property
    def window_size(self) -> int:
        """Window length in samples (400 at 16 kHz / 25 ms)."""
        return int(self.sample_rate * self.frame_length * 0.001)

    @property
    def window_shift(self) -> int:
        """Hop in samples (160 at 16 kHz / 10 ms)."""
        return int(self.sample_rate * self.frame_shift * 0.001)

    @property
    def feat_dim(self) -> int:
        """Output feature dimension (``num_mel_bins`` + 1 with ``use_energy``)."""
        return self.num_mel_bins + int(self.use_energy)

    def to_dict(self) -> dict:
        """Plain dict of the settings (for json)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "fbank config") -> "FbankConfig":
        """Build from a dict; unknown keys are an error that names them."""
        from speechproc.features.dump import settings_from_dict

        return settings_from_dict(cls, d, where, "fbank")

    def _kaldi_kwargs(self, dither: Optional[float] = None) -> dict:
        return dict(
            num_mel_bins=self.num_mel_bins,
            sample_frequency=float(self.sample_rate),
            frame_length=self.frame_length,
            frame_shift=self.frame_shift,
            dither=self.dither if dither is None else dither,
            energy_floor=self.energy_floor,
            low_freq=self.low_freq,
            high_freq=self.high_freq,
            preemphasis_coefficient=self.preemphasis_coefficient,
            remove_dc_offset=self.remove_dc_offset,
            window_type=self.window_type,
            round_to_power_of_two=self.round_to_power_of_two,
            snip_edges=self.snip_edges,
            use_energy=self.use_energy,
            raw_energy=self.raw_energy,
            use_log_fbank=self.use_log_fbank,
            use_power=self.use_power,
            htk_compat=self.htk_compat,
        )


def num_frames(num_samples: int, config: FbankConfig) -> int:
    """Number of frames Kaldi produces for ``num_samples`` samples.

    ``snip_edges``: ``1 + (T - window) // shift``; otherwise ``(T + shift // 2) // shift``.
    Either way 0 when ``T < window`` (``torchaudio`` needs at least one full window).
    """
    win, shift = config.window_size, config.window_shift
    if num_samples < win:
        return 0
    if config.snip_edges:
        return 1 + (num_samples - win) // shift
    return (num_samples + shift // 2) // shift


def compute_fbank(
    wave: Union[np.ndarray, torch.Tensor], config: Optional[FbankConfig] = None, dither: Optional[float] = None
) -> torch.Tensor:
    """Fbank of one waveform.

    Args:
        wave: float waveform ``(T,)`` in [-1, 1] at ``config.sample_rate``.
        config: settings (default :class:`FbankConfig`).
        dither: overrides ``config.dither`` when given.

    Returns:
        float32 tensor ``(num_frames(T), feat_dim)`` on the waveform's device (``(0, feat_dim)``
        when the waveform is shorter than one window).
    """
    from torchaudio.compliance import kaldi

    config = config or FbankConfig()
    x = torch.as_tensor(wave, dtype=torch.float32)
    if x.dim() != 1:
        raise ValueError(f"compute_fbank expects a 1-D waveform (T,), got shape {tuple(x.shape)}")
    if num_frames(x.shape[0], config) == 0:
        return x.new_zeros((0, config.feat_dim))
    return kaldi.fbank(x.unsqueeze(0) * config.scale, **config._kaldi_kwargs(dither))


def fbank_of_utt(data: DataDir, utt: str, config: Optional[FbankConfig] = None) -> torch.Tensor:
    """Fbank ``(num_frames, feat_dim)`` of utterance ``utt`` of a :class:`~speechproc.data.datadir.DataDir`.

    The audio is resampled to ``config.sample_rate`` when its rate differs.
    """
    config = config or FbankConfig()
    wave, _ = data.load_audio(utt, sample_rate=config.sample_rate)
    return compute_fbank(wave, config)


class Fbank(torch.nn.Module):
    """On-the-fly Kaldi fbank for batches: ``(B, T)`` waves -> ``(B, T', D)`` features.

    Each utterance is computed on its own valid samples, so the output of an utterance does
    not depend on the padding of the batch. Padded frames are zero.

    Args:
        config: settings (default :class:`FbankConfig`); keyword arguments override fields,
            e.g. ``Fbank(num_mel_bins=40)``. ``dither`` applies in training mode only.
    """

    def __init__(self, config: Optional[FbankConfig] = None, **overrides) -> None:
        super().__init__()
        config = config or FbankConfig()
        if overrides:
            config = dataclasses.replace(config, **overrides)
        self.config = config

    @property
    def feat_dim(self) -> int:
        """Output feature dimension."""
        return self.config.feat_dim

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frame counts ``(B,)`` for sample counts ``(B,)`` (integer tensors)."""
        return torch.tensor([num_frames(int(n), self.config) for n in lengths.tolist()],
                            dtype=torch.long, device=lengths.device)

    @torch.no_grad()
    def forward(self, wavs: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compute features.

        Args:
            wavs: ``(B, T)`` float waveforms in [-1, 1], zero-padded.
            lengths: ``(B,)`` valid lengths. An integer tensor holds sample counts (torchaudio
                convention); a floating tensor holds fractions of ``T`` (SpeechBrain's relative
                lengths). None means every row is complete.

        Returns:
            ``(feats, out_lengths)``: ``feats`` ``(B, T', D)`` with ``T'`` the longest frame count,
            and ``out_lengths`` ``(B,)`` in the same convention as ``lengths`` (frame counts, or
            fractions of ``T'``; integer frame counts when ``lengths`` is None).
        """
        if wavs.dim() != 2:
            raise ValueError(f"Fbank expects (B, T) waveforms, got shape {tuple(wavs.shape)}")
        B, T = wavs.shape
        relative = lengths is not None and lengths.is_floating_point()
        if lengths is None:
            n_samples = torch.full((B,), T, dtype=torch.long)
        elif relative:
            n_samples = torch.round(lengths.detach().cpu().double() * T).long().clamp(0, T)
        else:
            n_samples = lengths.detach().cpu().long()
        dither = self.config.dither if self.training else 0.0
        feats = [compute_fbank(wavs[b, : int(n_samples[b])], self.config, dither=dither) for b in range(B)]
        frames = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
        t_out = int(frames.max()) if B else 0
        out = wavs.new_zeros((B, t_out, self.config.feat_dim), dtype=torch.float32)
        for b, f in enumerate(feats):
            out[b, : f.shape[0]] = f
        if relative:
            rel = frames.double() / max(t_out, 1)
            return out, rel.to(device=lengths.device, dtype=lengths.dtype)
        return out, frames.to(wavs.device)

    def extra_repr(self) -> str:
        c = self.config
        return f"num_mel_bins={c.num_mel_bins}, sample_rate={c.sample_rate}, frame={c.frame_length}/{c.frame_shift} ms"


# ------------------------------------------------------------------------------------------------
# dumping


def _fbank_or_none(wave: np.ndarray, config: FbankConfig) -> Optional[np.ndarray]:
    """Fbank of one utterance for :func:`~speechproc.features.dump.dump_features`; None if shorter than a window."""
    if num_frames(len(wave), config) == 0:
        return None
    return compute_fbank(wave, config).numpy()


def dump_fbank(
    data_dir: PathLike, dump_dir: PathLike, config: Optional[FbankConfig] = None, nj: int = 1
) -> DataDir:
    """Compute fbank for every utterance of ``data_dir`` and write the dump dir ``dump_dir``.

    Utterances shorter than one window are dropped from it (logged); see
    :func:`~speechproc.features.dump.dump_features` for the layout and atomicity.

    Args:
        data_dir: Kaldi data dir.
        dump_dir: output dir.
        config: fbank settings (default :class:`FbankConfig`).
        nj: worker processes.

    Returns:
        the :class:`~speechproc.data.datadir.DataDir` of the dump dir.
    """
    config = config or FbankConfig()
    return dump_features(data_dir, dump_dir, "fbank", _fbank_or_none, config, config.to_dict(),
                         sample_rate=config.sample_rate, nj=nj)


def load_fbank_config(path: PathLike) -> FbankConfig:
    """Read an :class:`FbankConfig` from a yaml/json file (e.g. ``fbank.json`` of a dump dir) or a dump dir."""
    from speechproc.features.dump import load_settings

    return load_settings(FbankConfig, path, "fbank", "compute_fbank")


#: argparse destinations added by :func:`add_fbank_arguments`.
FBANK_OPTIONS = ("fbank_config", "num_mel_bins", "sample_rate", "frame_length", "frame_shift", "dither", "energy_floor",
               "low_freq", "high_freq", "snip_edges")
_CLI_FIELDS = FBANK_OPTIONS[1:]


def add_fbank_arguments(parser) -> None:
    """Add ``--fbank-config`` and the common fbank options to an argparse parser."""
    g = parser.add_argument_group("fbank options (command line > --fbank-config file > defaults)")
    g.add_argument("--fbank-config", metavar="FILE",
                   help="yaml/json file of FbankConfig fields (e.g. conf/fbank.yaml, or a dump dir's fbank.json)")
    g.add_argument("--num-mel-bins", type=int, help="mel bins (default 80)")
    g.add_argument("--sample-rate", type=int, help="sample rate in Hz; other audio is resampled (default 16000)")
    g.add_argument("--frame-length", type=float, help="window length in ms (default 25)")
    g.add_argument("--frame-shift", type=float, help="hop in ms (default 10)")
    g.add_argument("--dither", type=float, help="dither on the int16 scale (default 0: deterministic)")
    g.add_argument("--energy-floor", type=float, help="energy floor (default 0)")
    g.add_argument("--low-freq", type=float, help="low cut-off in Hz (default 20)")
    g.add_argument("--high-freq", type=float, help="high cut-off in Hz, <= 0: offset from Nyquist (default 0)")
    g.add_argument("--snip-edges", type=lambda v: {"true": True, "false": False}[v.lower()], metavar="true|false",
                   help="only frames that fit in the signal (default true)")


def fbank_config_from_args(args) -> FbankConfig:
    """The :class:`FbankConfig` from parsed :func:`add_fbank_arguments` options."""
    base = load_fbank_config(args.fbank_config) if getattr(args, "fbank_config", None) else FbankConfig()
    overrides = {k: getattr(args, k) for k in _CLI_FIELDS if getattr(args, k, None) is not None}
    return dataclasses.replace(base, **overrides) if overrides else base
