"""Evaluate a synthesis dir against natural speech: predicted MOS, MCD, log-F0 RMSE/F0 correlation, judge CER/WER.

    evaluate_tts --ref data/eval exp/tacotron2/synth_eval_gl [SYNTH_DIR ...]

For each SYNTH_DIR writes ``SYNTH_DIR/eval/`` (``result.md`` table, ``evaluate.json``,
``metrics.tsv``, the judge's transcripts and sclite-style reports); see
:mod:`speechproc.score.tts`. ``--table FILE`` also writes one table of all SYNTH_DIRs.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from speechproc.score.tts import METRICS_NOTE, evaluate_synthesis, format_table
from speechproc.utils import SpeechprocError, atomic_write_text, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``evaluate_tts``."""
    p = argparse.ArgumentParser(prog="evaluate_tts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True, help="natural data dir (audio + reference text)")
    p.add_argument("--judge-backend", choices=("faster-whisper", "hf", "none"), default="faster-whisper",
                   help="ASR judge backend; none skips intelligibility (default faster-whisper)")
    p.add_argument("--judge-model", default="tiny.en", help="Whisper model of the judge (default tiny.en)")
    p.add_argument("--normalize", default="whisper_en", help="text normalisation of both sides (default whisper_en)")
    p.add_argument("--no-f0", action="store_true", help="skip the F0 metrics")
    p.add_argument("--no-mos", action="store_true", help="skip the predicted MOS (DistillMOS) column")
    p.add_argument("--no-natural", action="store_true", help="do not transcribe the reference audio")
    p.add_argument("--ref-name", default="natural", help="row name of the reference audio (default natural)")
    p.add_argument("--speaker-exp", default=None, help="speaker model exp dir (egs/an4/spk/exp/ecapa): a speaker "
                   "similarity column, the cosine to the natural speaker's centroid (default: no column)")
    p.add_argument("--speaker-ref", default=None, help="natural speech of that speaker for the centroid (default "
                   "--ref; the natural row then compares each clip with the centroid of the others)")
    p.add_argument("--nthreads", type=int, default=1, help="judge threads (default 1)")
    p.add_argument("--table", default=None, help="also write one markdown table of all SYNTH_DIRs here, with the "
                   "environment (commit, date, CPU) and this command")
    p.add_argument("--title", default="", help="heading of --table")
    p.add_argument("--names", default=None, help="comma-separated row names (default: the synthesis dirs)")
    p.add_argument("--readme", default=None, help="also write the table into this README, between the markers "
                   "<!-- results:SECTION --> and <!-- /results:SECTION -->")
    p.add_argument("--section", default=None, help="the README section of --readme (default: the --table file's stem)")
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)  # what a calling verb records instead of this one
    p.add_argument("synth_dirs", nargs="+", metavar="SYNTH_DIR", help="synthesis dirs (data dirs of synthesized wavs)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Evaluate each synthesis dir; log and write the tables."""
    args = get_parser().parse_args(argv)
    setup_logging()
    judge = None
    if args.judge_backend == "none":
        judge = False
    else:
        from speechproc.models.pretrained.whisper import make_whisper_transcriber

        judge = make_whisper_transcriber(args.judge_backend, args.judge_model, nthreads=args.nthreads)
    mos = False
    if not args.no_mos:
        from speechproc.score.mos import MOSPredictor

        mos = MOSPredictor()
    rows = []
    natural = None
    names = args.names.split(",") if args.names else list(args.synth_dirs)
    if len(names) != len(args.synth_dirs):
        raise SpeechprocError(f"--names lists {len(names)} names for {len(args.synth_dirs)} synthesis dirs")
    for k, d in enumerate(args.synth_dirs):
        summary = evaluate_synthesis(d, args.ref, judge=judge, judge_backend=args.judge_backend,
                                     judge_model=args.judge_model, normalize=args.normalize, f0=not args.no_f0,
                                     judge_natural=not args.no_natural and k == 0, system=names[k],
                                     ref_name=args.ref_name, mos=mos, reuse=True, speaker_exp=args.speaker_exp,
                                     speaker_ref=args.speaker_ref)
        rows.append(summary["rows"][0])
        if len(summary["rows"]) > 1:
            natural = summary["rows"][1]
    if args.table:
        from speechproc.score.results import environment_info, update_readme_section

        table = format_table(rows + ([natural] if natural else []))
        env = environment_info(Path(args.table).resolve().parent)
        command = args.command or " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.evaluate_tts"]
                                           + list(sys.argv[1:] if argv is None else argv))
        text = ((f"**{args.title}**\n\n" if args.title else "")
                + f"- reference: {args.ref}; judge: {args.judge_backend}:{args.judge_model}; normalisation: "
                  f"{args.normalize}\n- {METRICS_NOTE}\n"
                + f"- commit {env['git commit']}, {env['date']}, {env['CPU']}, torch {env['torch version']}\n"
                + f"- command (in the recipe dir): `{command}`\n\n{table}")
        atomic_write_text(Path(args.table), text)
        if args.readme:
            update_readme_section(args.readme, args.section or Path(args.table).stem, text)
    return 0


if __name__ == "__main__":
    run_verb(main)
