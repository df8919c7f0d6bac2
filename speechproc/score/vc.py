"""Objective evaluation of voice conversion against the natural target (and source) speech.

For a source data dir, the parallel natural target data dir and one or more conversion dirs (data
dirs of converted wavs whose ids are the source's; :func:`speechproc.vc.convert.convert_data_dir`),
every row of the table is one system evaluated on the same utterance pairs:

- ``no conversion``: the natural source itself (the starting point);
- each conversion dir;
- ``natural target``: the target's own recordings (the judge's ceiling; no MCD/F0 against itself).

Columns (the figures of :mod:`speechproc.score.mcd` and :mod:`speechproc.score.mos`, reused, not
re-implemented):

- **MOS**: DistillMOS's predicted naturalness of every system, the natural target included.
- **MCD to target / to source** (dB): :func:`speechproc.score.mcd.mcd`, the ESPnet/sprocket
  definition (WORLD envelope, SPTK mel-cepstrum of order 24 with ``alpha`` 0.42 at 16 kHz, ``c_0``
  *excluded*, DTW-aligned), mean over the utterances. "To source" against the natural source
  utterance shows which speaker the output is closer to in spectral terms.
- **log-F0 RMSE / F0 correlation** against the target, along the MCD path on frames voiced in both
  (:func:`speechproc.score.mcd.f0_metrics`), and the output's **mean F0** (geometric mean of the
  voiced WORLD frames) beside the two speakers' means.
- **Judge CER/WER** (%): greedy Whisper ``tiny.en`` (:func:`speechproc.score.tts.judge_data_dir`)
  transcribes every system; the reference is the corpus transcript of the source when the source
  data dir has a ``text`` file (CMU ARCTIC), else the judge's own transcript of the *natural source*
  utterance (VCC2016 has no transcripts), whose ``no conversion`` CER is then 0 by construction.
  Both sides are normalised with ``whisper_en``.
- **Speaker similarity** to target / to source: the cosine between the speaker embedding of each
  output utterance and the mean embedding (centroid) of the natural target / source speech
  (``--src-train`` / ``--tgt-train`` when given, else the evaluation utterances), averaged.
  The speaker model (:class:`speechproc.score.speaker.SpeakerEmbedder`, trained by ``egs/an4/spk``) is
  given by its exp dir (:func:`load_speaker_embedder`); where it has no finished model the columns read ``-``.

:func:`evaluate_conversion` writes ``<conv dir>/eval/`` (``result.md``, ``evaluate.json``,
``metrics.tsv``, the judge's transcripts and sclite-style reports) and, when asked, one table of
all rows (``RESULTS``-style, with the environment and command that produced it).
"""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from speechproc.score.speaker import cosine, data_dir_centroid, load_speaker_embedder
from speechproc.utils import PathLike, SpeechprocError, atomic_write_text

__all__ = ["load_speaker_embedder", "format_vc_table", "evaluate_conversion"]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------


def _fmt(x: Optional[float], digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def format_vc_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown table of evaluation rows (keys: system, n, mos, mcd_tgt, mcd_src, f0_rmse (log-F0), f0_corr, f0_mean,
    cer, wer, sim_tgt, sim_src, train_s, rtf)."""
    out = ["| system | utts | MOS (DistillMOS) | MCD to target dB | MCD to source dB | log-F0 RMSE | F0 corr | "
           "mean F0 Hz | judge CER % | judge WER % | spk sim to target | spk sim to source | train s | RTF |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['system']} | {r['n']} | {_fmt(r.get('mos'))} | {_fmt(r.get('mcd_tgt'))} | "
                   f"{_fmt(r.get('mcd_src'))} | {_fmt(r.get('f0_rmse'), 3)} | {_fmt(r.get('f0_corr'), 3)} | "
                   f"{_fmt(r.get('f0_mean'), 1)} | "
                   f"{_fmt(r.get('cer'))} | {_fmt(r.get('wer'))} | {_fmt(r.get('sim_tgt'), 3)} | "
                   f"{_fmt(r.get('sim_src'), 3)} | {_fmt(r.get('train_s'), 0)} | {_fmt(r.get('rtf'), 3)} |")
    return "\n".join(out) + "\n"


def _mean(xs: Sequence[float]) -> float:
    vals = [x for x in xs if x is not None and not math.isnan(x)]
    return float(np.mean(vals)) if vals else float("nan")


def _mean_f0(f0: np.ndarray) -> float:
    ok = f0 > 0
    return float(np.exp(np.log(f0[ok]).mean())) if ok.any() else float("nan")


def evaluate_conversion(
    conv_dirs: Sequence[PathLike],
    src_dir: PathLike,
    tgt_dir: PathLike,
    names: Optional[Sequence[str]] = None,
    src_train: Optional[PathLike] = None,
    tgt_train: Optional[PathLike] = None,
    judge: Any = None,
    judge_backend: str = "faster-whisper",
    judge_model: str = "tiny.en",
    normalize: str = "whisper_en",
    ref_text: str = "auto",
    f0: bool = True,
    speaker_exp: Optional[PathLike] = None,
    table: Optional[PathLike] = None,
    title: str = "",
    command: str = "",
    max_utts: Optional[int] = None,
    mos: Any = None,
) -> Dict[str, Any]:
    """Evaluate conversion dirs against the natural source and target (see the module docstring).

    Args:
        conv_dirs: data dirs of converted audio (ids of ``src_dir``, or any ids whose part after the
            speaker prefix matches).
        src_dir, tgt_dir: the natural source and target evaluation data dirs (parallel).
        names: row names (default: each conversion dir's parent name, e.g. the experiment).
        src_train, tgt_train: natural speech for the speaker centroids (default the evaluation dirs).
        judge: a transcriber ``audio (T,) 16 kHz -> (text, ids)``; None builds the Whisper judge;
            ``False`` skips intelligibility.
        ref_text: ``auto`` (the source's ``text`` when it has one, else the judge's transcript of
            the natural source), ``text`` or ``judge``.
        f0: compute the F0 columns (pyin).
        speaker_exp: speaker model exp dir for the similarity columns (None: no such columns).
        table: also write the table of all rows here (markdown, with environment and command).
        title: heading of that table.
        command: the command line, recorded with the table.
        max_utts: evaluate only the first N parallel utterances (smoke runs).
        mos: a :class:`speechproc.score.mos.MOSPredictor`; None builds one; ``False`` skips the MOS column.

    Returns:
        ``{"rows": [...], "reference": ..., ...}`` (also each conversion dir's ``eval/evaluate.json``).
    """
    from speechproc.data import DataDir
    from speechproc.score.asr import score, write_report
    from speechproc.score.mcd import f0_metrics, mcd, world_analysis
    from speechproc.score.tts import METRICS_NOTE, judge_data_dir
    from speechproc.vc.convert import _file_id, parallel_pairs

    src, tgt = DataDir.load(src_dir), DataDir.load(tgt_dir)
    pairs = parallel_pairs(src, tgt, strict=False)[: max_utts or None]
    by_fid = {_file_id(s, src.utt2spk[s]): (s, t) for s, t in pairs}
    convs = [DataDir.load(d) for d in conv_dirs]
    names = list(names) if names else [Path(d).parent.name if Path(d).name.startswith("convert") else Path(d).name
                                       for d in conv_dirs]
    if len(names) != len(convs):
        raise SpeechprocError(f"evaluate_vc: {len(names)} names for {len(convs)} conversion dirs")
    # systems: (name, data dir, {fid: utt id in that dir}, out dir or None)
    systems: List[Tuple[str, Any, Dict[str, str], Optional[Path]]] = [
        ("no conversion (source)", src, {f: s for f, (s, _) in by_fid.items()}, None)]
    for name, d, path in zip(names, convs, conv_dirs):
        ids = {f: u for f, u in ((_file_id(u, d.utt2spk[u]), u) for u in d.utts) if f in by_fid}
        missing = sorted(set(by_fid) - set(ids))
        if missing:
            raise SpeechprocError(f"{path}: no converted audio for {len(missing)} of the {len(by_fid)} evaluation "
                                  f"utterances (e.g. id '{missing[0]}'); convert all of {src_dir}")
        systems.append((name, d, ids, Path(path)))
    systems.append(("natural target", tgt, {f: t for f, (_, t) in by_fid.items()}, None))
    fids = sorted(by_fid)
    # reference text
    if ref_text not in ("auto", "text", "judge"):
        raise SpeechprocError(f"evaluate_vc: --ref-text must be auto, text or judge, got '{ref_text}'")
    use_text = ref_text == "text" or (ref_text == "auto" and src.text is not None)
    if use_text and src.text is None:
        raise SpeechprocError(f"{src_dir}: no text file; use --ref-text judge (the judge's transcript of the source)")
    if judge is None:
        from speechproc.models.pretrained.whisper import make_whisper_transcriber

        judge = make_whisper_transcriber(judge_backend, judge_model)
    judge_name = None if judge is False else f"{judge_backend}:{judge_model}"
    if mos is None:
        from speechproc.score.mos import MOSPredictor

        mos = MOSPredictor()
    embed, spk_note = load_speaker_embedder(speaker_exp)
    centroids: Dict[str, np.ndarray] = {}
    if embed is not None:
        centroids["tgt"] = data_dir_centroid(embed, DataDir.load(tgt_train) if tgt_train else tgt)
        centroids["src"] = data_dir_centroid(embed, DataDir.load(src_train) if src_train else src)
    f0_means = {}
    hyps: Dict[str, Dict[str, str]] = {}
    ref: Dict[str, str] = {}
    if judge is not False:
        for name, data, ids, _ in systems:
            texts, rtf = judge_data_dir(data, judge, [ids[f] for f in fids])
            hyps[name] = {f: texts[ids[f]] for f in fids}
        ref = ({f: src.text[by_fid[f][0]] for f in fids} if use_text else dict(hyps["no conversion (source)"]))
        if not any(r.strip() for r in ref.values()):
            raise SpeechprocError(f"evaluate_vc: the judge heard no words in any utterance of {src_dir}; check the audio")
    rows: List[Dict[str, Any]] = []
    per_system: Dict[str, List[Dict[str, Any]]] = {}
    for name, data, ids, out in systems:
        start = time.perf_counter()
        utt_rows: List[Dict[str, Any]] = []
        audio: List[Tuple[np.ndarray, int]] = []  # read once: the metrics and the MOS both use it
        for f in fids:
            s_utt, t_utt = by_fid[f]
            w, sr = data.load_audio(ids[f])
            audio.append((w, sr))
            ws, sr_s = src.load_audio(s_utt)
            wt, sr_t = tgt.load_audio(t_utt)
            r: Dict[str, Any] = {"id": f, "utt": ids[f]}
            own_f0 = None
            if name != "natural target":
                m = mcd(w, wt, sr, sr_t)
                r["mcd_tgt"] = m.mcd
                own_f0 = m.syn.f0
                if f0:
                    fm = f0_metrics(m)
                    r.update(f0_rmse=fm.log_f0_rmse, f0_corr=fm.corr)
            if name != "no conversion (source)":
                r["mcd_src"] = mcd(w, ws, sr, sr_s).mcd
            if f0:
                r["f0_mean"] = _mean_f0(own_f0 if own_f0 is not None else world_analysis(w, sr).f0)
            if embed is not None:
                e = np.asarray(embed(w, sr))
                r["sim_tgt"], r["sim_src"] = cosine(e, centroids["tgt"]), cosine(e, centroids["src"])
            utt_rows.append(r)
        row: Dict[str, Any] = {"system": name, "n": len(fids)}
        if mos is not False:
            row["mos"] = float(np.mean(mos([w for w, _ in audio], [sr for _, sr in audio],
                                           names=[f"{name}: {ids[f]}" for f in fids])))
        for k in ("mcd_tgt", "mcd_src", "f0_rmse", "f0_corr", "f0_mean", "sim_tgt", "sim_src"):
            vals = [u[k] for u in utt_rows if k in u]
            row[k] = _mean(vals) if vals else None
        if name == "no conversion (source)":
            row["mcd_src"] = 0.0
        if out is not None and (out / "convert.json").is_file():
            row["rtf"] = json.loads((out / "convert.json").read_text(encoding="utf-8")).get("rtf")
        if out is not None and (out.parent / "vc.json").is_file():  # the conversion dir sits in its experiment dir
            row["train_s"] = json.loads((out.parent / "vc.json").read_text(encoding="utf-8")).get("train_seconds")
        elif out is not None and (out.parent / "train_summary.json").is_file():  # seq2seq: the shared trainer's summary
            from speechproc.exp import train_seconds

            row["train_s"] = train_seconds(json.loads((out.parent / "train_summary.json").read_text(encoding="utf-8")))
        if judge is not False:
            for unit, key in (("char", "cer"), ("word", "wer")):
                res = score(ref, hyps[name], unit, normalize=normalize, ref_name="reference", hyp_name=name)
                row[key] = res.error_rate
                if out is not None:
                    write_report(res, out / "eval" / f"judge_score_{key}")
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        per_system[name] = utt_rows
        logger.info("%s: MCD to target %s dB, to source %s dB, CER %s %%", name, _fmt(row.get("mcd_tgt")),
                    _fmt(row.get("mcd_src")), _fmt(row.get("cer")))
    f0_means = {"source": rows[0].get("f0_mean"), "target": rows[-1].get("f0_mean")}
    ref_note = (f"judge reference: the transcripts in {src_dir}/text" if use_text else
                "judge reference: the judge's own transcript of the natural source utterance (no transcripts)")
    notes = [f"source {src_dir}, target {tgt_dir}; {len(fids)} parallel utterances",
             METRICS_NOTE,
             f"judge: {judge_name}, normalisation {normalize}; {ref_note}", spk_note]
    table_md = format_vc_table(rows)
    summary = {"src_dir": str(src_dir), "tgt_dir": str(tgt_dir), "judge": judge_name, "normalize": normalize,
               "reference": "text" if use_text else "judge_natural_source", "speaker": spk_note,
               "f0_means": f0_means, "rows": rows, "notes": notes}
    for (name, _, ids, out), row in zip(systems, rows):
        if out is None:
            continue
        ev = out / "eval"
        ev.mkdir(parents=True, exist_ok=True)
        keys = ("mcd_tgt", "mcd_src", "f0_rmse", "f0_corr", "f0_mean", "sim_tgt", "sim_src")
        lines = ["id\tutt\t" + "\t".join(keys)]
        lines += [f"{u['id']}\t{u['utt']}\t" + "\t".join(_fmt(u.get(k), 3) for k in keys) for u in per_system[name]]
        atomic_write_text(ev / "metrics.tsv", "\n".join(lines) + "\n")
        if hyps:
            atomic_write_text(ev / "judge_text", "".join(f"{ids[f]} {hyps[name][f]}".rstrip() + "\n" for f in fids))
            atomic_write_text(ev / "judge_ref", "".join(f"{f} {ref[f]}".rstrip() + "\n" for f in fids))
        own = [rows[0], row, rows[-1]]
        atomic_write_text(ev / "evaluate.json", json.dumps({**summary, "rows": own, "system": name,
                                                            "utts": per_system[name]}, indent=2) + "\n")
        atomic_write_text(ev / "result.md", f"# {out}\n\n" + "".join(f"- {n}\n" for n in notes) + "\n"
                          + format_vc_table(own))
    if table is not None:
        from speechproc.score.results import environment_info

        env = environment_info(Path(table).resolve().parent)
        head = f"# {title}\n\n" if title else ""
        env_md = "".join(f"- {k}: {v}\n" for k, v in env.items())
        atomic_write_text(table, head + env_md + (f"- command: `{command}`\n" if command else "")
                          + "".join(f"- {n}\n" for n in notes) + "\n" + table_md)
    logger.info("evaluation:\n%s", table_md)
    return summary
