"""Frame-level voice conversion on parallel data: training, the experiment dir, :class:`VoiceConverter`.

Training (:func:`train_voice_converter`), for a source and a target data dir whose utterance ids
match after the speaker prefix (``data/SF1_train``, ``data/TF1_train``):

1. log-F0 mean/std of both speakers (:func:`speechproc.vc.features.f0_stats`); with
   ``f0_transform: pitch_shift`` the source audio is shifted by the ratio of the geometric means,
   ``12 log2(exp(mu_t - mu_s))`` semitones, *before* its features are extracted, so the spectral
   mapping also learns to undo what the shift does to the envelope (as sprocket's DIFFVC recipe);
2. mel-cepstra (order 24, ``alpha`` 0.41, 5 ms) of both sides; the mapping works on
   ``c_1 .. c_24`` static + delta;
3. ``align_iterations`` rounds of DTW pairing (:func:`speechproc.vc.features.align_pairs`; from
   the second round the converted source is aligned) and fitting the mapping on the pairs:
   ``gmm`` (:class:`speechproc.vc.gmm.JointGMM`, MLPG) or ``dnn`` (:class:`speechproc.vc.dnn.DNNMapping`);
   ``identity`` trains nothing (F0 shift + resynthesis only: the floor of what the mapping adds).

Conversion (:class:`VoiceConverter`), without a parametric vocoder: the differential spectral
filter (sprocket's DIFFVC, Kobayashi et al. 2016). The (pitch-shifted) source is analysed, its
``c_1 ..`` converted, and the source STFT (Hann, ``n_fft`` 512, hop 80) is multiplied by
``exp(L_conv(omega) - L_src(omega))``, the difference of the two log envelopes read on the linear
frequency axis (:func:`speechproc.vc.features.mcep_to_log_amplitude`); the source phase is kept
and the signal resynthesised by inverse STFT. The source's energy (``c_0``) and excitation are kept,
F0 moves only by the global pitch shift (the mean part of the log-F0 transform; the variance ratio
is stored but a waveform-domain pitch shift cannot apply it frame by frame).

With ``features.analysis: world`` the features are WORLD + SPTK mel-cepstra (sprocket's), the
differential filter reads its gain from ``pysptk.mc2sp``, and ``vocoder: world`` resynthesises
with WORLD instead: the converted envelope (source ``c_0``), the source's aperiodicity, and the
source F0 through the full linear log-F0 transform (``f0_transform: linear``:
``log f0' = mu_t + sigma_t / sigma_s (log f0 - mu_s)``, mean *and* variance).

Experiment dir (``train_vc``): ``vc.json`` (method, merged config, F0 statistics, training summary,
command, environment), ``config.yaml`` (the merged config), ``model.npz`` (GMM) or ``model.pt``
(DNN), ``train.log``.

>>> conv = VoiceConverter(IdentityMapping())
>>> x = 0.5 * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32)
>>> float(np.abs(conv(x, 16000) - x).max()) < 1e-3
True
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from speechproc.utils import PathLike, SpeechprocError, atomic_write_text
from speechproc.vc.features import (
    F0Stats,
    VCFeatureConfig,
    _at_rate,
    align_pairs,
    append_deltas,
    extract_mcep,
    f0_stats,
    mcep_to_log_amplitude,
    pitch_shift,
    speech_mask,
)

__all__ = ["METHODS", "DEFAULT_CONFIG", "CONVERSION_OPTIONS", "merge_config", "check_config", "parallel_pairs",
           "IdentityMapping", "VoiceConverter", "train_voice_converter", "convert_data_dir"]

logger = logging.getLogger(__name__)

METHODS = ("gmm", "dnn", "identity")

#: Every option of ``train_vc`` and its default (a yaml config and ``--set key=value`` override these).
DEFAULT_CONFIG: Dict[str, Any] = {
    "method": "gmm",
    "features": VCFeatureConfig().to_dict(),
    "f0_transform": "pitch_shift",   # pitch_shift (the source moves to the target's mean log-F0), linear (mean and
                                     # variance of log-F0, applied by the world vocoder) or none
    "align_iterations": 3,           # DTW rounds; from the 2nd the converted source is aligned
    "max_frames": 40000,             # training pairs kept (random subset) per round
    "mlpg": True,                    # MLPG over static + delta (False: static means only)
    "gv_postfilter": 0.0,            # 0..1: weight of the global-variance postfilter on the converted c_1..
    "vocoder": "diff",               # diff: filter the source STFT, keep its phase; griffin_lim: its log-mel through
                                     # speechproc.decode.vocoder's Griffin-Lim (the TTS vocoder path); world: WORLD
                                     # synthesis (features.analysis world)
    "seed": 0,
    "gmm": {"n_mix": 32, "n_iter": 30, "reg": 1e-3, "mixture": "posterior"},
    "dnn": {"context": 2, "hidden": 256, "layers": 3, "dropout": 0.3, "epochs": 20, "batch_size": 256, "lr": 1e-3,
            "weight_decay": 0.0, "valid_fraction": 0.1},
}


#: Options that may differ between training and conversion (``convert_vc --set``).
CONVERSION_OPTIONS = ("mlpg", "gv_postfilter", "vocoder", "gmm")


def merge_config(base: Mapping[str, Any], *updates: Optional[Mapping[str, Any]], where: str = "vc config") -> Dict[str, Any]:
    """``base`` updated by each mapping in turn (nested dicts merged); an unknown key is an error naming it."""
    out = copy.deepcopy(dict(base))
    for upd in updates:
        for k, v in (upd or {}).items():
            if k not in out:
                raise SpeechprocError(f"{where}: unknown option '{k}'; known: {', '.join(sorted(out))}")
            if isinstance(out[k], dict):
                if not isinstance(v, Mapping):
                    raise SpeechprocError(f"{where}: option '{k}' takes a mapping of {', '.join(sorted(out[k]))}, got {v!r}")
                out[k] = merge_config(out[k], v, where=f"{where}: {k}")
            else:
                out[k] = v
    return out


def check_config(cfg: Mapping[str, Any], where: str = "vc config") -> Dict[str, Any]:
    """``cfg`` merged over :data:`DEFAULT_CONFIG`, with its choices checked (errors name ``where``)."""
    out = merge_config(DEFAULT_CONFIG, cfg, where=where)
    if out["method"] not in METHODS:
        raise SpeechprocError(f"{where}: method '{out['method']}' is not one of {', '.join(METHODS)}")
    if out["f0_transform"] not in ("pitch_shift", "linear", "none"):
        raise SpeechprocError(f"{where}: f0_transform '{out['f0_transform']}' must be pitch_shift, linear or none")
    if out["vocoder"] not in ("diff", "griffin_lim", "world"):
        raise SpeechprocError(f"{where}: vocoder '{out['vocoder']}' must be diff, griffin_lim or world")
    analysis = dict(out["features"]).get("analysis", "stft")
    if out["vocoder"] == "world" and analysis != "world":
        raise SpeechprocError(f"{where}: vocoder world needs WORLD features: set features.analysis: world")
    if (out["f0_transform"] == "linear") != (out["vocoder"] == "world"):
        raise SpeechprocError(f"{where}: f0_transform linear goes with vocoder world (it applies the transform frame "
                              f"by frame); the diff and griffin_lim vocoders take pitch_shift or none")
    if out["gmm"]["mixture"] not in ("best", "posterior"):
        raise SpeechprocError(f"{where}: gmm.mixture '{out['gmm']['mixture']}' must be best or posterior")
    VCFeatureConfig.from_dict(out["features"], where)
    return out


def _file_id(utt: str, spk: str) -> str:
    return utt[len(spk):].lstrip("_-") if utt.startswith(spk) else utt


def parallel_pairs(src, tgt, strict: bool = True) -> List[Tuple[str, str]]:
    """``(source utt, target utt)`` pairs of two parallel data dirs (ids equal after the speaker prefix).

    With ``strict`` the two dirs must hold the same ids (otherwise the error names the first
    difference); else the intersection is used.
    """
    s = {_file_id(u, src.utt2spk[u]): u for u in src.utts}
    t = {_file_id(u, tgt.utt2spk[u]): u for u in tgt.utts}
    only_s, only_t = sorted(set(s) - set(t)), sorted(set(t) - set(s))
    if strict and (only_s or only_t):
        which = f"'{only_s[0]}' only in {src.source}" if only_s else f"'{only_t[0]}' only in {tgt.source}"
        raise SpeechprocError(
            f"parallel data dirs {src.source} and {tgt.source} differ: {len(only_s)} id(s) only in the source, "
            f"{len(only_t)} only in the target (e.g. {which}); re-run data preparation for this pair "
            f"(./run.sh --stage 1 --stop-stage 1 --force true --src-spk ... --tgt-spk ...)")
    common = sorted(set(s) & set(t))
    if not common:
        raise SpeechprocError(f"{src.source} and {tgt.source} share no utterance id after the speaker prefix")
    return [(s[k], t[k]) for k in common]


class IdentityMapping:
    """The mapping that returns the source statics (``method: identity``)."""

    def convert(self, x: np.ndarray, **_: Any) -> np.ndarray:
        """Static half of ``x`` ``(T, 2D)``."""
        return np.asarray(x)[:, : x.shape[1] // 2]


def _f0_shift(src: Optional[F0Stats], tgt: Optional[F0Stats], mode: str) -> float:
    """Semitones the source waveform is shifted by before analysis (``pitch_shift`` only)."""
    if mode != "pitch_shift" or src is None or tgt is None:
        return 0.0
    return 12.0 * (tgt.mean - src.mean) / math.log(2.0)


class VoiceConverter:
    """Convert a source speaker's waveform to the target speaker (see the module docstring).

    Args:
        mapping: an object with ``convert(x (T, 2D) static + delta) -> (T, D)`` statics
            (:class:`~speechproc.vc.gmm.JointGMM`, :class:`~speechproc.vc.dnn.DNNMapping`, :class:`IdentityMapping`).
        features: analysis settings.
        f0_src, f0_tgt: log-F0 statistics of both speakers (None: no pitch shift).
        config: the merged training config (``f0_transform``, ``mlpg``, ``gv_postfilter``, ``gmm.mixture``).
        gv_target: per-dimension global variance of the target's ``c_1 ..`` (for the postfilter).
    """

    def __init__(self, mapping: Any, features: Optional[VCFeatureConfig] = None, f0_src: Optional[F0Stats] = None,
                 f0_tgt: Optional[F0Stats] = None, config: Optional[Mapping[str, Any]] = None,
                 gv_target: Optional[np.ndarray] = None) -> None:
        self.mapping = mapping
        self.features = features or VCFeatureConfig()
        self.config = check_config(config or {"method": "identity"})
        self.f0_src, self.f0_tgt = f0_src, f0_tgt
        self.gv_target = gv_target
        self.semitones = _f0_shift(f0_src, f0_tgt, self.config["f0_transform"])
        self._vocoder: Any = None

    @property
    def sample_rate(self) -> int:
        """Output sample rate (Hz)."""
        return self.features.sample_rate

    @classmethod
    def from_pretrained(cls, exp_dir: PathLike, overrides: Optional[Mapping[str, Any]] = None) -> "VoiceConverter":
        """Load an experiment dir written by :func:`train_voice_converter` (``vc.json`` + model file).

        ``overrides`` changes conversion-time options only (:data:`CONVERSION_OPTIONS`), e.g.
        ``{"vocoder": "griffin_lim"}`` or ``{"gmm": {"mixture": "best"}}``.

        A sequence-to-sequence exp of the shared trainer (``task: vc``, method 2) gives a
        :class:`speechproc.vc.seq2seq.Seq2SeqConverter`, a recognition-synthesis one (``task: recsynth``)
        a :class:`speechproc.vc.recsynth.RecSynthConverter`; both are called the same way.
        """
        from speechproc.exp import exp_settings, resolve_exp_dir
        from speechproc.vc.seq2seq import Seq2SeqConverter, is_seq2seq_exp

        exp = resolve_exp_dir(exp_dir)  # a packed model (*.zip) is unpacked into the cache
        if is_seq2seq_exp(exp):  # a run of the shared trainer: its task picks the converter
            if exp_settings(exp).get("task") == "recsynth":
                from speechproc.vc.recsynth import RecSynthConverter

                return RecSynthConverter.from_pretrained(exp, overrides)  # type: ignore[return-value]
            return Seq2SeqConverter.from_pretrained(exp, overrides)  # type: ignore[return-value]
        info_file = exp / "vc.json"
        if not info_file.is_file():
            raise SpeechprocError(f"{info_file}: not found; train the model first (python -m speechproc.bin.train_vc ...)")
        info = json.loads(info_file.read_text(encoding="utf-8"))
        bad = sorted(set(overrides or {}) - set(CONVERSION_OPTIONS))
        if bad or set((overrides or {}).get("gmm", {})) - {"mixture"}:
            raise SpeechprocError(f"conversion options {bad or ['gmm.' + k for k in overrides['gmm']]} cannot change a "
                                  f"trained model; allowed: {', '.join(CONVERSION_OPTIONS)} (gmm: mixture)")
        cfg = check_config(merge_config(info["config"], overrides), where=str(info_file))
        method = cfg["method"]
        if method == "gmm":
            from speechproc.vc.gmm import JointGMM

            mapping: Any = JointGMM.load(exp / "model.npz")
        elif method == "dnn":
            from speechproc.vc.dnn import DNNMapping

            mapping = DNNMapping.load(exp / "model.pt")
        else:
            mapping = IdentityMapping()
        f0 = info.get("f0") or {}
        gv = info.get("gv_target")
        return cls(mapping, VCFeatureConfig.from_dict(cfg["features"], str(info_file)),
                   F0Stats(**f0["src"]) if f0.get("src") else None, F0Stats(**f0["tgt"]) if f0.get("tgt") else None,
                   cfg, None if gv is None else np.asarray(gv))

    def convert_static(self, mcep: np.ndarray) -> np.ndarray:
        """Converted ``c_1 .. c_order`` ``(T, order)`` of the source's mel-cepstra ``(T, order + 1)``."""
        from speechproc.vc.gmm import JointGMM

        x = append_deltas(np.asarray(mcep)[:, 1:])
        if isinstance(self.mapping, IdentityMapping):
            y = self.mapping.convert(x)
        elif isinstance(self.mapping, JointGMM):
            y = self.mapping.convert(x, mixture=self.config["gmm"]["mixture"], use_mlpg=self.config["mlpg"])
        else:
            y = self.mapping.convert(x, use_mlpg=self.config["mlpg"])
        w = float(self.config["gv_postfilter"])
        if w > 0 and self.gv_target is not None and len(y) > 1:
            mean = y.mean(0)
            scale = np.sqrt(self.gv_target / np.maximum(y.var(0), 1e-12))
            y = mean + (y - mean) * (w * scale + (1.0 - w))
        return y

    def prepare_source(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """The source at the analysis rate, pitch-shifted to the target's mean log-F0 (what is filtered)."""
        x = _at_rate(wave, sample_rate, self.features)
        return pitch_shift(x, self.features.sample_rate, self.semitones)

    def _griffin_lim(self, y: np.ndarray) -> np.ndarray:
        """The filtered signal's log-mel re-synthesised by the TTS Griffin-Lim vocoder (phase discarded)."""
        from speechproc.decode.vocoder import GriffinLimVocoder
        from speechproc.features.mel import MelConfig, compute_mel

        if self._vocoder is None:
            sr = self.features.sample_rate
            mel_cfg = MelConfig(sample_rate=sr, n_fft=1024, win_length=1024, hop_length=int(sr * 0.0125), n_mels=80,
                                fmax=sr / 2)
            self._vocoder = GriffinLimVocoder(mel_cfg)
        out = self._vocoder(compute_mel(y, self._vocoder.mel_config))
        return np.pad(out, (0, max(0, len(y) - len(out))))[: len(y)]

    def convert_f0(self, f0: np.ndarray) -> np.ndarray:
        """The linear log-F0 transform of a source F0 track ``(T,)`` (0 = unvoiced stays 0)."""
        out = np.zeros_like(f0, dtype=np.float64)
        v = f0 > 0
        if self.f0_src is None or self.f0_tgt is None or self.config["f0_transform"] == "none":
            out[v] = f0[v]
            return out
        ratio = self.f0_tgt.std / max(self.f0_src.std, 1e-6)
        out[v] = np.exp(self.f0_tgt.mean + ratio * (np.log(f0[v]) - self.f0_src.mean))
        return out

    def _world(self, x: np.ndarray) -> np.ndarray:
        """WORLD resynthesis: converted envelope, source aperiodicity, transformed F0."""
        import pyworld

        from speechproc.vc.features import mcep_to_sp, sp_to_mcep, world_params

        f = self.features
        p = world_params(x, f)
        c = sp_to_mcep(p.sp, f)
        mc = np.concatenate([c[:, :1], self.convert_static(c)], axis=1)
        sp = mcep_to_sp(mc, f, p.fft_size)
        y = pyworld.synthesize(self.convert_f0(p.f0), sp, p.ap, f.sample_rate, 1000.0 * f.hop / f.sample_rate)
        return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]

    def __call__(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """Convert ``wave`` ``(N,)`` at ``sample_rate``; returns float32 ``(N',)`` at :attr:`sample_rate`
        (``N' = N`` when the rates agree)."""
        import librosa

        f = self.features
        x = self.prepare_source(wave, sample_rate)
        if len(x) == 0:
            return x
        if self.config["vocoder"] == "world":
            y = self._world(x)
            peak = float(np.abs(y).max()) if len(y) else 0.0
            return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)
        c = extract_mcep(x, f)
        if f.analysis == "world":  # log amplitude of the envelope difference (c_0 = 0) by SPTK
            from speechproc.vc.features import mcep_to_sp

            diff = np.concatenate([np.zeros((len(c), 1)), self.convert_static(c) - c[:, 1:]], axis=1)
            log_gain = 0.5 * np.log(np.maximum(mcep_to_sp(diff, f, f.n_fft), 1e-20))
        else:
            log_gain = mcep_to_log_amplitude(self.convert_static(c) - c[:, 1:], f.alpha, f.n_fft, first=1)  # (T, F)
        pad = max(0, f.n_fft - len(x))
        xp = np.pad(x, (0, pad))
        spec = librosa.stft(xp, n_fft=f.n_fft, hop_length=f.hop, window="hann", center=True, pad_mode="reflect")
        n = min(spec.shape[1], len(log_gain))
        spec = spec[:, :n] * np.exp(log_gain[:n].T)
        y = librosa.istft(spec, hop_length=f.hop, n_fft=f.n_fft, window="hann", center=True, length=len(xp))[: len(x)]
        if self.config["vocoder"] == "griffin_lim":
            y = self._griffin_lim(y)
        peak = float(np.abs(y).max()) if len(y) else 0.0
        if peak > 0.99:
            y = y * (0.99 / peak)
        return y.astype(np.float32)


# ---------------------------------------------------------------------------------------------- training


def _environment() -> Dict[str, str]:
    from speechproc.score.results import environment_info

    return environment_info(Path(__file__).resolve().parent)


def train_voice_converter(src_dir: PathLike, tgt_dir: PathLike, out_dir: PathLike,
                          config: Optional[Mapping[str, Any]] = None, command: str = "",
                          max_utts: Optional[int] = None) -> Dict[str, Any]:
    """Train a frame-level converter on parallel data dirs and write the experiment dir.

    Args:
        src_dir, tgt_dir: parallel data dirs (ids equal after the speaker prefix).
        out_dir: experiment dir to write (replaced atomically).
        config: options overriding :data:`DEFAULT_CONFIG` (already merged yaml + command line).
        command: the command line, recorded in ``vc.json``.
        max_utts: use only the first N parallel utterances (smoke runs).

    Returns:
        the ``vc.json`` content.
    """
    from speechproc.data import DataDir
    from speechproc.utils import atomic_output_dir

    cfg = check_config(config or {})
    feat = VCFeatureConfig.from_dict(cfg["features"])
    src, tgt = DataDir.load(src_dir), DataDir.load(tgt_dir)
    pairs = parallel_pairs(src, tgt)[: max_utts or None]
    start = time.perf_counter()
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as tmp:
        handler = logging.FileHandler(tmp / "train.log", encoding="utf-8")
        from speechproc.utils import LOG_FORMAT

        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            logger.info("vc training: method %s, %d parallel utterances (%s -> %s), config %s", cfg["method"],
                        len(pairs), src_dir, tgt_dir, json.dumps(cfg))
            src_waves = [_at_rate(*src.load_audio(u), feat) for u, _ in pairs]
            tgt_waves = [_at_rate(*tgt.load_audio(u), feat) for _, u in pairs]
            f0_s, f0_t = f0_stats(src_waves, feat), f0_stats(tgt_waves, feat)
            shift = _f0_shift(f0_s, f0_t, cfg["f0_transform"])
            logger.info("log-F0: source mean %.1f Hz (std %.3f), target mean %.1f Hz (std %.3f); pitch shift %+.2f "
                        "semitones", f0_s.mean_hz, f0_s.std, f0_t.mean_hz, f0_t.std, shift)
            t_feat = time.perf_counter()
            src_mcep = [extract_mcep(pitch_shift(w, feat.sample_rate, shift), feat) for w in src_waves]
            tgt_mcep = [extract_mcep(w, feat) for w in tgt_waves]
            src_x = [append_deltas(c[:, 1:]) for c in src_mcep]
            tgt_y = [append_deltas(c[:, 1:]) for c in tgt_mcep]
            src_mask = [speech_mask(c, feat.silence_db) for c in src_mcep]
            tgt_mask = [speech_mask(c, feat.silence_db) for c in tgt_mcep]
            t_feat = time.perf_counter() - t_feat
            # global variance of the target's c_1.. per utterance (speech frames), for the optional postfilter
            gv_target = np.mean([c[mask, 1:].var(0) if mask.sum() > 1 else c[:, 1:].var(0)
                                 for c, mask in zip(tgt_mcep, tgt_mask)], axis=0)
            converter = VoiceConverter(IdentityMapping(), feat, f0_s, f0_t, cfg, gv_target)
            rounds: List[Dict[str, Any]] = []
            mapping: Any = IdentityMapping()
            rng = np.random.default_rng(cfg["seed"])
            n_rounds = 1 if cfg["method"] == "identity" else max(1, int(cfg["align_iterations"]))
            for r in range(n_rounds):
                t0 = time.perf_counter()
                conv = None if r == 0 else [converter.convert_static(c) for c in src_mcep]
                frame_pairs, dist = align_pairs([c[:, 1:] for c in src_mcep], [c[:, 1:] for c in tgt_mcep], src_mask,
                                                tgt_mask, src_for_dtw=conv)
                n_pairs = int(sum(len(p) for p in frame_pairs))
                info: Dict[str, Any] = {"round": r + 1, "pairs": n_pairs, "dtw_mean_distance": round(dist, 4),
                                        "dtw_mcd_db": round(dist * 10.0 / math.log(10.0) * math.sqrt(2.0), 3)}
                logger.info("round %d/%d: DTW of the %s source: %d frame pairs, mean distance %.4f (%.2f dB MCD)", r + 1,
                            n_rounds, "raw" if r == 0 else "converted", n_pairs, dist, info["dtw_mcd_db"])
                if cfg["method"] == "gmm":
                    from speechproc.vc.gmm import JointGMM

                    z = np.concatenate([np.concatenate([x[p[:, 0]], y[p[:, 1]]], axis=1)
                                        for x, y, p in zip(src_x, tgt_y, frame_pairs)])
                    if len(z) > cfg["max_frames"]:
                        z = z[np.sort(rng.choice(len(z), cfg["max_frames"], replace=False))]
                    g = cfg["gmm"]
                    prev = mapping if isinstance(mapping, JointGMM) else None
                    model = prev or JointGMM(g["n_mix"], g["n_iter"], g["reg"], seed=cfg["seed"])

                    def progress(it: int, ll: float) -> None:
                        logger.info("  gmm EM iteration %d: mean log-likelihood %.3f", it + 1, ll)

                    model.fit(z, warm_start=prev is not None, progress=progress)
                    info.update({"frames": int(len(z)), "log_likelihood": [round(v, 4) for v in model.history]})
                    mapping = model
                elif cfg["method"] == "dnn":
                    from speechproc.vc.dnn import DNNMapping

                    model = DNNMapping(**cfg["dnn"], seed=cfg["seed"])
                    if n_pairs > cfg["max_frames"]:
                        keep = cfg["max_frames"] / n_pairs
                        frame_pairs = [p[rng.random(len(p)) < keep] for p in frame_pairs]
                    model.fit(src_x, tgt_y, frame_pairs)
                    info.update({"frames": int(sum(len(p) for p in frame_pairs)), "history": model.history})
                    mapping = model
                converter = VoiceConverter(mapping, feat, f0_s, f0_t, cfg, gv_target)
                info["seconds"] = round(time.perf_counter() - t0, 2)
                rounds.append(info)
            if cfg["method"] == "gmm":
                mapping.save(tmp / "model.npz")
            elif cfg["method"] == "dnn":
                mapping.save(tmp / "model.pt")
            # training-set MCD of the converted statics along the last alignment (a sanity figure)
            conv = [converter.convert_static(c) for c in src_mcep]
            frame_pairs, dist = align_pairs(conv, [c[:, 1:] for c in tgt_mcep], src_mask, tgt_mask)
            train_mcd = dist * 10.0 / math.log(10.0) * math.sqrt(2.0)
            logger.info("training-set MCD of the converted features (DTW, speech frames): %.2f dB", train_mcd)
            import yaml

            atomic_write_text(tmp / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
            summary = {
                "method": cfg["method"], "src": str(src_dir), "tgt": str(tgt_dir), "utterances": len(pairs),
                "config": cfg, "command": command, "environment": _environment(),
                "f0": {"src": f0_s.__dict__, "tgt": f0_t.__dict__, "shift_semitones": round(shift, 3),
                       "std_ratio": round(f0_t.std / f0_s.std, 4)},
                "gv_target": gv_target.tolist(), "rounds": rounds, "train_mcd_db": round(train_mcd, 3),
                "feature_seconds": round(t_feat, 2), "train_seconds": round(time.perf_counter() - start, 2),
            }
            atomic_write_text(tmp / "vc.json", json.dumps(summary, indent=2) + "\n")
            logger.info("wrote %s in %.1f s", out_dir, summary["train_seconds"])
        finally:
            root.removeHandler(handler)
            handler.close()
    return summary


def convert_data_dir(converter: VoiceConverter, data_dir: PathLike, out_dir: PathLike,
                     utts: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Convert every utterance of ``data_dir`` into ``out_dir/wav/<utt>.wav`` and write a data dir there
    (same ids, speakers and text as the input). Returns ``{"audio_seconds", "convert_seconds", "rtf"}``."""
    import soundfile as sf

    from speechproc.data import DataDir

    data = DataDir.load(data_dir)
    out = Path(out_dir)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    todo = list(utts) if utts is not None else data.utts
    audio_s = conv_s = 0.0
    wav_scp: Dict[str, str] = {}
    for k, utt in enumerate(todo, 1):
        wave, sr = data.load_audio(utt)
        t0 = time.perf_counter()
        y = converter(wave, sr)
        conv_s += time.perf_counter() - t0
        audio_s += len(wave) / sr
        path = out / "wav" / f"{utt}.wav"
        sf.write(str(path), y, converter.sample_rate, subtype="PCM_16")
        wav_scp[utt] = str(path.resolve())
        logger.info("converted %s (%d/%d, %.2f s)", utt, k, len(todo), len(wave) / sr)
    sub = data.subset(todo)
    text = {u: sub.text[u] for u in todo} if sub.text is not None else None
    DataDir(wav_scp=wav_scp, utt2spk={u: sub.utt2spk[u] for u in todo}, text=text).write_files(out)
    return {"audio_seconds": audio_s, "convert_seconds": conv_s, "rtf": conv_s / audio_s if audio_s else float("nan")}
