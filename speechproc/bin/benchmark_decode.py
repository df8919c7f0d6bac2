"""Beam search speed: the project's search (cached decoder, loop-free CTC prefix scores) against SpeechBrain's
own on the same model, settings and data, in one process on ``--threads`` threads.

    python -m speechproc.bin.benchmark_decode --exp-dir exp/asr_conformer --data dump/test \\
        --config conf/decode_asr.yaml --threads 2 --out exp/asr_conformer/decode_speed [--readme README.md]

Each variant decodes the whole data dir as ``decode_asr`` does (batches of ``batch_seconds`` of audio, padded);
its RTF is the decoding time (normalisation, encoder, search) over the audio duration, after one warm-up
batch. Writes ``result.json``, ``result.md``, ``text.<variant>`` and, with ``--readme``, the README section.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from speechproc.utils import SpeechprocError, atomic_write_text, run_verb, setup_logging

VARIANTS = {"project": {"fast_search": True}, "speechbrain": {"fast_search": False}}


def _cell(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="trained CTC/attention experiment")
    p.add_argument("--data", required=True, help="dump dir (feats.scp) or data dir with text")
    p.add_argument("--config", default=None, help="decode yaml (beam size, weights)")
    p.add_argument("--lm-dir", default=None, help="LM experiment for shallow fusion")
    p.add_argument("--variants", default="project,speechbrain", help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    p.add_argument("--max-utts", type=int, default=None)
    p.add_argument("--out", required=True, help="output dir")
    p.add_argument("--readme", default=None, help="README whose section --section gets the table")
    p.add_argument("--section", default="decode_speed", help="README section key (default decode_speed)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    from speechproc.data.dataset import make_asr_dataset
    from speechproc.decode.asr import Speech2Text
    from speechproc.score.asr import score
    from speechproc.score.results import environment_info, git_commit, write_benchmark

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise SpeechprocError(f"--variants: unknown {bad}; choose from {', '.join(VARIANTS)}")
    torch.set_num_threads(args.threads)
    ds = make_asr_dataset(args.data, None, fbank_config=None, sort=None, max_utts=args.max_utts)
    items = [ds[i] for i in range(len(ds))]
    refs: Dict[str, str] = {}
    text = Path(args.data) / "text"
    if text.is_file():
        for line in text.read_text(encoding="utf-8").splitlines():
            u, _, t = line.partition(" ")
            refs[u] = t.strip()
    audio = sum(float(it["duration"]) for it in items)
    rows: List[dict] = []
    hyps_all: Dict[str, Dict[str, str]] = {}
    for name in variants:
        s2t = Speech2Text.from_pretrained(args.exp_dir, decode_config=args.config, lm_dir=args.lm_dir, **VARIANTS[name])
        budget = float(s2t.config["batch_seconds"])
        batches, cur, dur = [], [], 0.0
        for it in items:
            if cur and dur + float(it["duration"]) > budget:
                batches.append(cur)
                cur, dur = [], 0.0
            cur.append(it)
            dur += float(it["duration"])
        if cur:
            batches.append(cur)
        s2t.decode_features(*Speech2Text.pad([it["feats"] for it in batches[0][:4]]))  # warm-up
        hyps: Dict[str, str] = {}
        seconds = 0.0
        for batch in batches:
            feats, lengths = Speech2Text.pad([it["feats"] for it in batch])
            t0 = time.perf_counter()
            texts = s2t.decode_features(feats, lengths)
            seconds += time.perf_counter() - t0
            hyps.update({it["id"]: t for it, t in zip(batch, texts)})
        wer = cer = None
        if refs:
            wer, cer = score(refs, hyps).totals.rate, score(refs, hyps, unit="char").totals.rate
        c = s2t.config
        rows.append({"variant": name, "seconds": round(seconds, 2), "rtf": round(seconds / max(audio, 1e-9), 4),
                     "wer": None if wer is None else round(wer, 2), "cer": None if cer is None else round(cer, 2),
                     "beam_size": c["beam_size"], "ctc_weight": c["ctc_weight"], "lm_weight": c["lm_weight"]})
        hyps_all[name] = hyps
    same = None
    if len(hyps_all) > 1:
        first = next(iter(hyps_all.values()))
        same = sum(all(h[u] == first[u] for h in hyps_all.values()) for u in first)
    root = Path(__file__).resolve().parents[2]
    result = {"command": " ".join(shlex.quote(a) for a in [sys.executable, "-m", "speechproc.bin.benchmark_decode",
                                                              *(sys.argv[1:] if argv is None else argv)]),
              "commit": git_commit(root), "exp_dir": args.exp_dir, "data": args.data, "utterances": len(items),
              "audio_seconds": round(audio, 2), "threads": args.threads, "identical_transcripts": same, "rows": rows,
              "environment": environment_info(root)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, h in hyps_all.items():
        atomic_write_text(out / f"text.{name}", "".join(f"{u} {h[u]}\n" for u in sorted(h)))
    r0 = rows[0]
    lines = [f"{len(items)} utterances of `{args.data}` ({audio:.1f} s), joint CTC/attention beam search (beam "
             f"{r0['beam_size']}, CTC weight {r0['ctc_weight']}, LM weight {r0['lm_weight']}), batches as `decode_asr`, "
             f"{args.threads} threads" + (f"; identical transcripts {same} of {len(items)}" if same is not None else "")
             + ".", "", "| search | WER % | CER % | RTF | seconds |", "|---|---:|---:|---:|---:|"]
    label = {"project": "cached decoder + loop-free CTC prefix scores (default)", "speechbrain": "SpeechBrain's search"}
    for r in rows:
        lines.append(f"| {label[r['variant']]} | {_cell(r['wer'])} | {_cell(r['cer'])} | {r['rtf']:.4f} | "
                     f"{r['seconds']:.1f} |")
    lines += ["", f"Command: `{result['command']}` (commit {result['commit']}; CPU {result['environment']['CPU']})."]
    table = "\n".join(lines) + "\n"
    write_benchmark(out, result, table, args.readme, args.section)
    return 0


if __name__ == "__main__":
    run_verb(main)
