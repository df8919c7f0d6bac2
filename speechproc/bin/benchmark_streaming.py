"""Streaming ASR benchmark: WER, CER, latency and real-time factor of a dynamic-chunk-trained Conformer at
several chunk sizes and in full context, on a data dir's audio.

    python -m speechproc.bin.benchmark_streaming --exp-dir exp/asr_streaming --data data/test \\
        --chunks 160,320,640,full --threads 2 --out exp/asr_streaming/streaming_test [--readme README.md]

Each utterance is fed as a microphone would deliver it, in pieces of ``--piece-ms`` (40 ms), to
:class:`~speechproc.decode.streaming.Speech2TextStreaming` (CTC prefix beam search over each chunk, attention
rescoring at the end, endpointing off so that each utterance gives one final result). Latency of a chunk:
the compute time of the call that completed it, i.e. from the moment its audio (with the 45 ms the 4x
subsampling looks ahead) has arrived to its partial result; final latency: the time from the end of the
audio to the final result (the last, shorter chunk plus the rescoring). RTF: all compute time over the audio
duration. ``full``: the same search over the encoder run on the whole utterance once it has ended (its
latency is that whole computation). Features are part of every figure. Writes ``result.json`` and
``result.md`` (and, with ``--readme``, the README section ``--section``).
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from speechproc.utils import SpeechprocError, atomic_write_text, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="streaming ASR experiment (dynamic chunk training)")
    p.add_argument("--data", required=True, help="data dir (wav.scp, text)")
    p.add_argument("--chunks", default="160,320,640,full", help="chunk sizes in ms (multiples of 40) and/or full")
    p.add_argument("--piece-ms", type=float, default=40.0, help="audio delivered per call (default 40 ms)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    p.add_argument("--beam-size", type=int, default=10)
    p.add_argument("--ctc-weight", type=float, default=0.5, help="attention rescoring: weight of the CTC score")
    p.add_argument("--rescore", action=argparse.BooleanOptionalAction, default=True,
                   help="attention rescoring of the n-best at the end (default on)")
    p.add_argument("--max-utts", type=int, default=None, help="only the first N utterances")
    p.add_argument("--out", required=True, help="output dir (result.json, result.md, text.<chunk>)")
    p.add_argument("--readme", default=None, help="README whose section --section gets the table")
    p.add_argument("--section", default="streaming", help="README section key (default streaming)")
    return p


def _pct(xs: List[float], q: float) -> Optional[float]:
    return None if not xs else float(np.percentile(np.asarray(xs), q))


def _ms(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(1000.0 * x, 1)


def _cell(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.0f}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    from tqdm import tqdm

    from speechproc.data.dataset import load_data_dir
    from speechproc.decode.streaming import Speech2TextStreaming
    from speechproc.score.asr import score

    torch.set_num_threads(args.threads)
    chunks = [c.strip() for c in args.chunks.split(",") if c.strip()]
    if not chunks:
        raise SpeechprocError("--chunks is empty; give e.g. 160,320,640,full")
    data = load_data_dir(args.data)
    if not data.text:
        raise SpeechprocError(f"{args.data}/text is missing: the benchmark needs references")
    utts = list(data.utts)[: args.max_utts] if args.max_utts else list(data.utts)
    opts = dict(beam_size=args.beam_size, ctc_weight=args.ctc_weight, rescore=args.rescore, endpoint_seconds=0.0,
                max_silence_seconds=0.0)
    base = None
    rows = []
    hyps_all: Dict[str, Dict[str, str]] = {}
    waves = {}
    for chunk in chunks:
        full = chunk == "full"
        s2t = Speech2TextStreaming.from_pretrained(args.exp_dir, chunk_ms=640 if full else float(chunk), **opts)
        base = base or s2t
        rate = s2t.fbank_config.sample_rate
        step = max(1, int(round(args.piece_ms / 1000.0 * rate)))
        if not waves:
            waves = {u: data.load_audio(u, sample_rate=rate)[0] for u in utts}
        s2t.transcribe(waves[utts[0]])  # warm-up: first-call allocations are not part of the figures
        hyps: Dict[str, str] = {}
        chunk_lat: List[float] = []
        final_lat: List[float] = []
        compute = audio = 0.0
        for u in tqdm(utts, desc=f"streaming {chunk}", unit="utt"):
            w = waves[u]
            audio += len(w) / rate
            if full:
                t0 = time.perf_counter()
                hyps[u] = s2t.transcribe_full_context(w)
                dt = time.perf_counter() - t0
                compute += dt
                final_lat.append(dt)
                continue
            s2t.reset()
            finals = []
            for i in range(0, len(w), step):
                before = s2t.chunks_done
                t0 = time.perf_counter()
                res = s2t.accept_waveform(w[i: i + step])
                dt = time.perf_counter() - t0
                compute += dt
                if s2t.chunks_done > before:
                    chunk_lat.append(dt)
                finals += [r.text for r in res if r.final]
            t0 = time.perf_counter()
            finals += [r.text for r in s2t.finish() if r.final]
            dt = time.perf_counter() - t0
            compute += dt
            final_lat.append(dt)
            hyps[u] = " ".join(finals)
        refs = {u: data.text[u] for u in utts}
        wer, cer = score(refs, hyps).totals.rate, score(refs, hyps, unit="char").totals.rate
        rows.append({"chunk": chunk if full else f"{int(float(chunk))} ms", "chunk_frames": None if full else s2t.chunk_size,
                     "left_chunks": None if full else s2t.left_chunks, "wer": round(wer, 2), "cer": round(cer, 2),
                     "latency_ms_avg": _ms(float(np.mean(chunk_lat)) if chunk_lat else None),
                     "latency_ms_p90": _ms(_pct(chunk_lat, 90)),
                     "final_latency_ms_avg": _ms(float(np.mean(final_lat))), "final_latency_ms_p90": _ms(_pct(final_lat, 90)),
                     "rtf": round(compute / max(audio, 1e-9), 4)})
        hyps_all[rows[-1]["chunk"].replace(" ", "")] = hyps
        logger.info("chunk %s: WER %.2f %%, CER %.2f %%, RTF %.4f", chunk, wer, cer, rows[-1]["rtf"])
    from speechproc.score.results import environment_info, git_commit, write_benchmark

    root = Path(__file__).resolve().parents[2]
    result = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, "-m", "speechproc.bin.benchmark_streaming",
                                                        *(sys.argv[1:] if argv is None else argv)]),
        "commit": git_commit(root), "exp_dir": args.exp_dir, "data": args.data, "utterances": len(utts),
        "audio_seconds": round(sum(len(w) for w in waves.values()) / base.fbank_config.sample_rate, 2),
        "threads": args.threads, "piece_ms": args.piece_ms, "beam_size": args.beam_size,
        "rescore": args.rescore, "ctc_weight": args.ctc_weight, "rows": rows, "environment": environment_info(root),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for chunk, h in hyps_all.items():
        atomic_write_text(out / f"text.{chunk}", "".join(f"{u} {h[u]}\n" for u in sorted(h)))
    lines = [f"{len(utts)} utterances of `{args.data}` ({result['audio_seconds']:.1f} s), fed in {args.piece_ms:g} ms "
             f"pieces, {args.threads} threads; CTC prefix beam {args.beam_size}"
             f"{', attention rescoring (CTC weight %g)' % args.ctc_weight if args.rescore else ''}, endpointing off.",
             "",
             "| chunk | WER % | CER % | chunk latency avg ms | chunk latency p90 ms | final latency avg ms | "
             "final latency p90 ms | RTF |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['chunk']} | {r['wer']:.2f} | {r['cer']:.2f} | {_cell(r['latency_ms_avg'])} | "
                     f"{_cell(r['latency_ms_p90'])} | {_cell(r['final_latency_ms_avg'])} | {_cell(r['final_latency_ms_p90'])} | "
                     f"{r['rtf']:.3f} |")
    lines += ["", f"Command: `{result['command']}` (commit {result['commit']}; CPU {result['environment']['CPU']})."]
    table = "\n".join(lines) + "\n"
    write_benchmark(out, result, table, args.readme, args.section)
    return 0


if __name__ == "__main__":
    run_verb(main)
