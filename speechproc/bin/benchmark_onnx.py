"""PyTorch vs ONNX Runtime on a data dir: the exported encoder + CTC head (``export_onnx``) against the
PyTorch model it came from, utterance by utterance (batch 1, as a deployment decodes), on ``--threads``
intra-op threads for both runtimes.

    python -m speechproc.bin.export_onnx --exp-dir exp/asr_conformer
    python -m speechproc.bin.benchmark_onnx --exp-dir exp/asr_conformer --data dump/test --threads 2 \\
        --out exp/asr_conformer/onnx/benchmark [--readme README.md --section onnx]

or both at once, ``--export`` writing the graph first as ``export_onnx`` does (a recipe's ONNX stage).

Writes ``result.json`` and ``result.md``: the largest difference of the CTC log-probabilities and of the
encoder states on valid frames, how many greedy CTC transcripts are identical, WER of each runtime against
the references (when the data dir has ``text``) and each runtime's real-time factor (encoder + CTC + greedy
search time / audio time, features excluded, after one warm-up utterance). With ``--readme`` the table
also replaces the README section ``--section``.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

from speechproc.utils import atomic_write_text, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="trained ASR experiment (Conformer/Transformer CTC)")
    p.add_argument("--data", required=True, help="data or dump dir to decode (text: WER columns)")
    p.add_argument("--onnx", default=None, help="exported encoder (default EXP_DIR/onnx)")
    p.add_argument("--export", action="store_true",
                   help="export the model first (export_onnx, into --onnx or EXP_DIR/onnx), then benchmark it")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of both runtimes (default 2)")
    p.add_argument("--max-utts", type=int, default=None, help="only the first N utterances")
    p.add_argument("--out", required=True, help="output dir (result.json, result.md)")
    p.add_argument("--readme", default=None, help="README whose section --section gets the table")
    p.add_argument("--section", default="onnx", help="README section key (default onnx)")
    return p


def _wer(refs: Dict[str, str], hyps: Dict[str, str]) -> Optional[float]:
    from speechproc.score.asr import score

    return score(refs, hyps).totals.rate if refs else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    from speechproc.data.dataset import make_asr_dataset
    from speechproc.decode.asr import Speech2Text
    from speechproc.decode.onnx import OnnxEncoder
    from speechproc.models.asr.ctc import ctc_greedy_ids

    onnx_path = Path(args.onnx) if args.onnx else Path(args.exp_dir) / "onnx"
    if args.export:
        from speechproc.decode.onnx import ONNX_FILE, export_asr_onnx

        export_asr_onnx(args.exp_dir, onnx_path if onnx_path.suffix == ".onnx" else onnx_path / ONNX_FILE)
    torch.set_num_threads(args.threads)
    s2t = Speech2Text.from_pretrained(args.exp_dir, mode="greedy_ctc")
    ort = OnnxEncoder(onnx_path, threads=args.threads)
    ds = make_asr_dataset(args.data, None, fbank_config=None, sort=None, max_utts=args.max_utts)
    items = [ds[i] for i in range(len(ds))]
    refs: Dict[str, str] = {}
    text = Path(args.data) / "text"
    if text.is_file():
        for line in text.read_text(encoding="utf-8").splitlines():
            u, _, t = line.partition(" ")
            refs[u] = t.strip()
    blank = s2t.tokenizer.blank_id

    def pytorch(feats, lengths):
        with torch.no_grad():
            x, _ = s2t.normalize(feats, lengths) if s2t.normalize is not None else (feats, lengths)
            enc, enc_len = s2t.model.encode(x, lengths)
            return s2t.model.ctc_logprobs(enc), enc, enc_len

    runtimes = {"PyTorch": pytorch, "ONNX Runtime": ort}
    hyps: Dict[str, Dict[str, str]] = {k: {} for k in runtimes}
    seconds = {k: 0.0 for k in runtimes}
    max_logp = max_enc = 0.0
    audio = 0.0
    first = items[0]
    for run in runtimes.values():  # warm-up: first-call allocations are not part of the figures
        run(first["feats"][None], torch.tensor([first["feats"].shape[0]]))
    from tqdm import tqdm

    for item in tqdm(items, desc="benchmark_onnx", unit="utt"):
        feats = item["feats"][None]
        lengths = torch.tensor([feats.shape[1]])
        audio += float(item["duration"])
        outs = {}
        for name, run in runtimes.items():
            t0 = time.perf_counter()
            logp, enc, enc_len = run(feats, lengths)
            ids = ctc_greedy_ids(logp, enc_len, blank)[0]
            seconds[name] += time.perf_counter() - t0
            hyps[name][item["id"]] = s2t.tokenizer.decode(ids)
            outs[name] = (logp, enc, int(enc_len[0]))
        (lp, ep, n), (lo, eo, _) = outs["PyTorch"], outs["ONNX Runtime"]
        max_logp = max(max_logp, float((lp[0, :n] - lo[0, :n]).abs().max()))
        max_enc = max(max_enc, float((ep[0, :n] - eo[0, :n]).abs().max()))
    same = sum(hyps["PyTorch"][u] == hyps["ONNX Runtime"][u] for u in hyps["PyTorch"])
    from speechproc.score.results import environment_info, git_commit, write_benchmark

    result = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, "-m", "speechproc.bin.benchmark_onnx",
                                                        *(sys.argv[1:] if argv is None else argv)]),
        "commit": git_commit(Path(__file__).resolve().parents[2]), "exp_dir": args.exp_dir, "data": args.data,
        "onnx": str(ort.path), "threads": args.threads, "utterances": len(items), "audio_seconds": round(audio, 2),
        "max_abs_diff_ctc_logprobs": max_logp, "max_abs_diff_encoder": max_enc,
        "identical_transcripts": same,
        "runtimes": {k: {"seconds": round(seconds[k], 3), "rtf": round(seconds[k] / max(audio, 1e-9), 4),
                         "wer": None if not refs else round(_wer(refs, hyps[k]), 2)} for k in runtimes},
        "environment": environment_info(Path(__file__).resolve().parents[2]),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, h in hyps.items():
        atomic_write_text(out / f"text.{name.split()[0].lower()}", "".join(f"{u} {h[u]}\n" for u in sorted(h)))
    lines = [f"{len(items)} utterances of `{args.data}` ({audio:.1f} s), greedy CTC, batch 1, {args.threads} "
             f"threads; largest difference on valid frames: CTC log-probabilities {max_logp:.2e}, encoder states "
             f"{max_enc:.2e}; identical transcripts {same} of {len(items)}.", "",
             "|runtime|WER (%)|RTF|seconds|", "|---|---|---|---|"]
    for k, r in result["runtimes"].items():
        wer = "-" if r["wer"] is None else f"{r['wer']:.2f}"
        lines.append(f"|{k}|{wer}|{r['rtf']:.4f}|{r['seconds']:.2f}|")
    lines += ["", f"Command: `{result['command']}` (commit {result['commit']}; CPU {result['environment']['CPU']})."]
    table = "\n".join(lines) + "\n"
    write_benchmark(out, result, table, args.readme, args.section)
    return 0


if __name__ == "__main__":
    run_verb(main)
