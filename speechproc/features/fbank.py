"""Kaldi-compatible log-mel filterbank features, on the fly or dumped to disk.

Features come from ``torchaudio.compliance.kaldi.fbank`` (the same numbers as Kaldi's
``compute-fbank-feats`` on 16-bit audio: waveforms in [-1, 1] are scaled by 32768 first).
With ``snip_edges=True`` (Kaldi's default) an utterance of ``T`` samples has
``1 + (T - frame_length) // frame_shift`` frames (``1 + (T - 400) // 160`` at 16 kHz, 25/10 ms),
and none when ``T < frame_length`` (in both modes).

Two ways to use them:

- on the fly: :class:`Fbank`, a ``torch.nn.Module`` for a model's ``compute_forward``,
  ``(B, T)`` waveforms + lengths -> ``(B, T', D)`` features + lengths;
- dumped: :func:`dump_fbank` (verb ``compute_fbank DATA_DIR DUMP_DIR``) writes a dump dir, read
  back with :class:`FeatureStore`.

Dump dir layout (``DUMP_DIR``)::

    wav.scp text utt2spk spk2utt [segments utt2dur ...]   the data dir (utterances with features)
    feats.scp        <utt> <absolute path of feats/<utt>.npy>
    utt2num_frames   <utt> <number of frames>
    feats/<utt>.npy  float32 array (num_frames, num_mel_bins), one per utterance
    fbank.json       the FbankConfig used, plus feat_dim

Paths in ``feats.scp`` are absolute (as in Kaldi), so subsets of the dump dir saved elsewhere
keep pointing at the same arrays; a relative path is resolved against the ``feats.scp`` folder.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch

from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError, atomic_output_dir

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

PathLike = Union[str, os.PathLike]

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
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names - {"feat_dim"})
        if unknown:
            raise SpeechprocError(f"{where}: unknown fbank option(s) {unknown}; known: {', '.join(sorted(names))}")
        return cls(**{k: v for k, v in d.items() if k in names})

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


def _check_utt_name(utt: str) -> None:
    if "/" in utt or utt in (".", "..") or utt.startswith("."):
        raise SpeechprocError(
            f"utterance id '{utt}' cannot name a feature file (no '/', no leading '.'); "
            f"rename it in the data dir"
        )


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def _dump_part(data: DataDir, utts: List[str], config: FbankConfig, feats_dir: str) -> Tuple[Dict[str, int], List[str]]:
    """Compute and save features of ``utts``; return ({utt: frames}, [dropped report lines])."""
    torch.set_num_threads(1)
    frames: Dict[str, int] = {}
    dropped: List[str] = []
    for utt in utts:
        wave, _ = data.load_audio(utt, sample_rate=config.sample_rate)
        if num_frames(len(wave), config) == 0:
            dropped.append(f"dropped {utt}: {len(wave)} samples, shorter than one {config.window_size}-sample window")
            continue
        feats = compute_fbank(wave, config).numpy().astype(np.float32, copy=False)
        _save_npy_atomic(Path(feats_dir) / f"{utt}.npy", feats)
        frames[utt] = int(feats.shape[0])
    return frames, dropped


def dump_fbank(
    data_dir: PathLike, dump_dir: PathLike, config: Optional[FbankConfig] = None, nj: int = 1
) -> DataDir:
    """Compute fbank for every utterance of ``data_dir`` and write the dump dir ``dump_dir``.

    The dump dir is written to a temporary name and renamed when complete (it replaces an
    existing one). Utterances shorter than one window are dropped from it (logged).

    Args:
        data_dir: Kaldi data dir.
        dump_dir: output dir (layout in the module docstring).
        config: fbank settings (default :class:`FbankConfig`).
        nj: worker processes.

    Returns:
        the :class:`~speechproc.data.datadir.DataDir` of the dump dir.
    """
    config = config or FbankConfig()
    data = DataDir.load(data_dir)
    utts = list(data.utts)
    if not utts:
        raise SpeechprocError(f"{data_dir}: the data dir has no utterances; check its wav.scp and utt2spk")
    for utt in utts:
        _check_utt_name(utt)
    dump_dir = Path(dump_dir).absolute()
    nj = max(1, min(int(nj), len(utts)))
    start = time.perf_counter()
    with atomic_output_dir(dump_dir) as tmp:
        feats_dir = tmp / "feats"
        feats_dir.mkdir()
        parts = [utts[i::nj] for i in range(nj)]
        frames: Dict[str, int] = {}
        dropped: List[str] = []
        if nj == 1:
            results = [_dump_part(data, utts, config, str(feats_dir))]
        else:
            import multiprocessing

            with ProcessPoolExecutor(nj, mp_context=multiprocessing.get_context("spawn")) as pool:
                results = list(pool.map(_dump_part, [data] * nj, parts, [config] * nj, [str(feats_dir)] * nj))
        for f, d in results:
            frames.update(f)
            dropped.extend(d)
        for line in sorted(dropped):
            logger.warning("%s", line)
        if not frames:
            raise SpeechprocError(f"{data_dir}: every utterance is shorter than one window; nothing to dump")
        kept = [u for u in utts if u in frames]
        out = data.subset(kept) if dropped else data
        extra = dict(out.extra)
        extra["feats.scp"] = {u: str(dump_dir / "feats" / f"{u}.npy") for u in kept}
        extra["utt2num_frames"] = {u: str(frames[u]) for u in kept}
        out = dataclasses.replace(out, extra=extra)
        out.write_files(tmp)  # the data dir was validated when loaded
        cfg = config.to_dict()
        cfg["feat_dim"] = config.feat_dim
        (tmp / "fbank.json").write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    elapsed = time.perf_counter() - start
    logger.info("wrote fbank (%d dims) of %d utterances (%d frames) to %s in %.1f s (%.1f ms/utt), %d dropped",
                config.feat_dim, len(kept), sum(frames.values()), dump_dir, elapsed,
                1000 * elapsed / max(len(utts), 1), len(dropped))
    return DataDir.load(dump_dir)


def read_scp(path: PathLike) -> Dict[str, str]:
    """Read a Kaldi ``key value`` file (value = rest of the line) into a dict, checking duplicates."""
    path = Path(path)
    if not path.is_file():
        raise SpeechprocError(f"{path}: not found")
    out: Dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise SpeechprocError(f"{path}: line {n}: expected '<key> <value>', got '{line}'")
            if parts[0] in out:
                raise SpeechprocError(f"{path}: line {n}: key '{parts[0]}' appears twice; fix the file")
            out[parts[0]] = parts[1]
    return out


def load_fbank_config(path: PathLike) -> FbankConfig:
    """Read an :class:`FbankConfig` from a yaml/json file (e.g. ``fbank.json`` of a dump dir) or a dump dir."""
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / "fbank.json"
    if not path.is_file():
        raise SpeechprocError(f"{path}: not found; it is written by 'speechproc compute_fbank'")
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise SpeechprocError(f"{path}: not valid yaml/json ({e})") from None
    if not isinstance(d, dict):
        raise SpeechprocError(f"{path}: expected a mapping of fbank options, got {type(d).__name__}")
    return FbankConfig.from_dict(d, where=str(path))


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


class FeatureStore:
    """Read access to dumped features (a dump dir, or any dir with a ``feats.scp``).

    ``store[utt]`` is the float32 array ``(num_frames, feat_dim)``; ``len(store)``, iteration
    over utterance ids (C-sorted) and ``store.num_frames(utt)`` are available.

    Args:
        path: the dir holding ``feats.scp`` (and ``utt2num_frames``, ``fbank.json`` if present).
        mmap: memory-map the arrays instead of reading them.
    """

    def __init__(self, path: PathLike, mmap: bool = False) -> None:
        self.path = Path(path)
        scp = self.path / "feats.scp"
        if not scp.is_file():
            raise SpeechprocError(
                f"{scp}: not found; {self.path} is not a feature dump, run 'speechproc compute_fbank'"
            )
        self._scp = read_scp(scp)
        n2f = self.path / "utt2num_frames"
        self._frames = {k: int(v) for k, v in read_scp(n2f).items()} if n2f.is_file() else None
        self.mmap = mmap
        self.config = load_fbank_config(self.path) if (self.path / "fbank.json").is_file() else None

    @property
    def utts(self) -> List[str]:
        """Utterance ids, C-sorted."""
        return sorted(self._scp)

    def __len__(self) -> int:
        return len(self._scp)

    def __contains__(self, utt: str) -> bool:
        return utt in self._scp

    def __iter__(self) -> Iterator[str]:
        return iter(self.utts)

    def file_of(self, utt: str) -> Path:
        """Path of the array of ``utt`` (relative entries resolve against the dump dir)."""
        try:
            p = Path(self._scp[utt])
        except KeyError:
            raise SpeechprocError(f"{self.path}/feats.scp: no utterance '{utt}'; re-run compute_fbank") from None
        return p if p.is_absolute() else self.path / p

    def __getitem__(self, utt: str) -> np.ndarray:
        p = self.file_of(utt)
        try:
            return np.load(p, mmap_mode="r" if self.mmap else None)
        except (OSError, ValueError) as e:
            raise SpeechprocError(
                f"{self.path}/feats.scp: utterance '{utt}': cannot read {p} ({e}); re-run compute_fbank"
            ) from None

    def num_frames(self, utt: str) -> int:
        """Frame count of ``utt`` (from ``utt2num_frames``, else from the array header)."""
        if self._frames is not None and utt in self._frames:
            return self._frames[utt]
        return int(np.load(self.file_of(utt), mmap_mode="r").shape[0])
