"""Check the CTranslate2 -> transformers Whisper conversion on AN4 test against faster-whisper.

    python egs/an4/asr_whisper/local/check_conversion.py --model tiny.en data/test exp/whisper_check

Decodes the data dir greedily, one process, one utterance at a time, with ``--nthreads`` threads:

1. ``fw``: faster-whisper on the original CTranslate2 weights (the reference);
2. ``hf_fwfeat``: the converted checkpoint fed the very same log-mel input as faster-whisper
   (isolates the conversion: differences come from the weights/arithmetic only);
3. ``hf``: the converted checkpoint with transformers' feature extractor (audio padded to 30 s
   before the log-mel, the front end used for fine-tuning).

Each decode dir gets ``score_{wer,cer}/`` (raw text) and a sibling ``<decode dir>_whisper_en/score_{wer,cer}/``
(the recipes' layout, which ``make_results`` reads; speechproc's scorer, raw text and
Whisper's English normaliser on both sides). ``OUT_DIR/conversion_check.json`` holds, per hf run,
the agreement with ``fw`` (identical raw transcripts, identical token ids, identical normalised
transcripts) and, per run, WER/CER raw and normalised and the real-time factor.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from speechproc.bin import whisper_decode
from speechproc.score.asr import METRICS, normalize_for_scoring, read_kaldi_text, score, write_report
from speechproc.utils import atomic_write_text, run_verb, setup_logging

logger = logging.getLogger("check_conversion")

RUNS = {
    "fw": ["--backend", "faster-whisper"],
    "hf_fwfeat": ["--backend", "hf", "--features", "faster-whisper"],
    "hf": ["--backend", "hf", "--features", "hf"],
}


def agreement(a: Dict[str, str], b: Dict[str, str], normalize: str = "none") -> Dict[str, object]:
    """Share of utterances whose transcripts are identical after ``normalize``; lists the others."""
    utts = sorted(a)
    diff = [u for u in utts if normalize_for_scoring(a[u], normalize) != normalize_for_scoring(b.get(u, ""), normalize)]
    return {"rate": 100.0 * (len(utts) - len(diff)) / len(utts), "n": len(utts), "n_diff": len(diff), "differ": diff}


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="tiny.en", help="packaged Whisper model (default tiny.en)")
    p.add_argument("--nthreads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), help="decodes to run")
    p.add_argument("--limit", type=int, default=None, help="only the first N utterances")
    p.add_argument("--skip-existing", action="store_true", help="reuse decode dirs that have decode.json")
    p.add_argument("data_dir")
    p.add_argument("out_dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Decode, score, compare; write ``conversion_check.json``."""
    args = get_parser().parse_args(argv)
    setup_logging()
    out = Path(args.out_dir)
    ref = read_kaldi_text(Path(args.data_dir) / "text")
    hyps: Dict[str, Dict[str, str]] = {}
    ids: Dict[str, Dict[str, str]] = {}
    result: Dict[str, object] = {"model": args.model, "data_dir": str(args.data_dir), "runs": {}}
    for name in args.runs:
        dec = out / f"decode_{Path(args.data_dir).name}_{name}"
        if not (args.skip_existing and (dec / "decode.json").is_file()):
            extra: List[str] = ["--limit", str(args.limit)] if args.limit else []
            whisper_decode.main(RUNS[name] + ["--model", args.model, "--nthreads", str(args.nthreads)] + extra
                                + [str(args.data_dir), str(dec)])
        hyps[name] = read_kaldi_text(dec / "text")
        ids[name] = read_kaldi_text(dec / "token_ids")
        sub_ref = {u: ref[u] for u in hyps[name]}
        info = json.loads((dec / "decode.json").read_text())
        run: Dict[str, object] = {"decode_dir": str(dec), "rtf": info["rtf"], "decode_s": info["decode_s"],
                                  "audio_s": info["audio_s"], "n_utts": info["n_utts"]}
        for norm in ("none", "whisper_en"):
            for unit in ("word", "char"):
                res = score(sub_ref, hyps[name], unit, normalize=norm, ref_name=str(Path(args.data_dir) / "text"),
                            hyp_name=str(dec / "text"))
                out = dec if norm == "none" else dec.with_name(f"{dec.name}_{norm}")
                write_report(res, out / f"score_{METRICS[unit]}")
                run[f"{METRICS[unit]}_{'raw' if norm == 'none' else 'normalized'}"] = round(res.error_rate, 2)
        result["runs"][name] = run  # type: ignore[index]
        logger.info("%s: %s", name, {k: v for k, v in run.items() if k != "decode_dir"})
    if "fw" in hyps:
        for name in hyps:
            if name == "fw":
                continue
            agree = {
                "raw_text": agreement(hyps["fw"], hyps[name]),
                "token_ids": agreement(ids["fw"], ids[name]),
                "normalized_text": agreement(hyps["fw"], hyps[name], "whisper_en"),
            }
            agree["examples"] = [  # type: ignore[assignment]
                {"utt": u, "ref": ref[u], "fw": hyps["fw"][u], name: hyps[name][u]}
                for u in agree["raw_text"]["differ"][:10]  # type: ignore[index]
            ]
            result["runs"][name]["agreement_with_fw"] = agree  # type: ignore[index]
            logger.info("%s vs fw: raw transcripts identical on %.1f %% of %d utterances", name,
                        agree["raw_text"]["rate"], agree["raw_text"]["n"])  # type: ignore[index]
    atomic_write_text(out / "conversion_check.json", json.dumps(result, indent=2) + "\n")
    logger.info("wrote %s", out / "conversion_check.json")
    return 0


if __name__ == "__main__":
    run_verb(main)
