"""Evaluate voice conversion: MCD to target and source, F0 RMSE/correlation, judge CER/WER, speaker similarity.

    evaluate_vc --src data/SF1_eval --tgt data/TF1_eval --src-train data/SF1_train --tgt-train data/TF1_train \\
        --table exp/RESULTS_SF1_TF1.md exp/SF1_TF1_gmm/convert_SF1_eval exp/SF1_TF1_dnn/convert_SF1_eval

One table: ``no conversion (source)``, each CONV_DIR (named by ``--names`` or its experiment dir),
``natural target``. Each CONV_DIR also gets ``eval/`` (``result.md``, ``evaluate.json``,
``metrics.tsv``, the judge's transcripts and reports). The judge's reference is the source's
``text`` when it has one (CMU ARCTIC), else the judge's own transcript of the natural source
(VCC2016); see :mod:`speechproc.score.vc`.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from typing import Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging

__all__ = ["get_parser", "main"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``evaluate_vc``."""
    p = argparse.ArgumentParser(prog="evaluate_vc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", required=True, help="natural source evaluation data dir")
    p.add_argument("--tgt", required=True, help="natural target evaluation data dir (parallel to --src)")
    p.add_argument("--src-train", default=None, help="natural source speech for the speaker centroid")
    p.add_argument("--tgt-train", default=None, help="natural target speech for the speaker centroid")
    p.add_argument("--names", default=None, help="comma-separated row names of the CONV_DIRs")
    p.add_argument("--judge-backend", choices=("faster-whisper", "hf", "none"), default="faster-whisper",
                   help="ASR judge backend; none skips intelligibility (default faster-whisper)")
    p.add_argument("--judge-model", default="tiny.en", help="Whisper model of the judge (default tiny.en)")
    p.add_argument("--normalize", default="whisper_en", help="text normalisation of both sides (default whisper_en)")
    p.add_argument("--ref-text", choices=("auto", "text", "judge"), default="auto",
                   help="judge reference: the source's text (auto when it has one) or the judge's transcript of it")
    p.add_argument("--max-utts", type=int, default=None, help="evaluate the first N parallel utterances only")
    p.add_argument("--no-f0", action="store_true", help="skip the F0 columns")
    p.add_argument("--no-mos", action="store_true", help="skip the predicted MOS (DistillMOS) column")
    p.add_argument("--speaker-exp", default="none",
                   help="speaker model exp dir for the similarity columns (egs/an4/spk/exp/ecapa after its run.sh); "
                        "none: no such columns")
    p.add_argument("--table", default=None, help="write the table of all rows here (markdown)")
    p.add_argument("--title", default="", help="heading of --table")
    p.add_argument("--readme", default=None, help="also write the --table text into this README, between the markers "
                   "<!-- results:SECTION --> and <!-- /results:SECTION -->")
    p.add_argument("--section", default=None, help="the README section of --readme (default: the --table file's stem)")
    p.add_argument("--nthreads", type=int, default=1, help="judge threads (default 1)")
    p.add_argument("conv_dirs", nargs="*", metavar="CONV_DIR", help="conversion dirs (data dirs of converted wavs)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Evaluate and write the tables."""
    args = get_parser().parse_args(argv)
    setup_logging()
    import torch

    from speechproc.score.vc import evaluate_conversion

    torch.set_num_threads(args.nthreads)
    judge = None
    if args.judge_backend == "none":
        judge = False
    else:
        from speechproc.models.pretrained.whisper import make_whisper_transcriber

        judge = make_whisper_transcriber(args.judge_backend, args.judge_model, nthreads=args.nthreads)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.evaluate_vc"]
                       + list(sys.argv[1:] if argv is None else argv))
    evaluate_conversion(args.conv_dirs, args.src, args.tgt, names=args.names.split(",") if args.names else None,
                        src_train=args.src_train, tgt_train=args.tgt_train, judge=judge,
                        judge_backend=args.judge_backend, judge_model=args.judge_model, normalize=args.normalize,
                        ref_text=args.ref_text, f0=not args.no_f0, speaker_exp=args.speaker_exp, table=args.table,
                        title=args.title, command=command, max_utts=args.max_utts, mos=False if args.no_mos else None)
    if args.readme:
        from pathlib import Path

        from speechproc.score.results import update_readme_section

        if not args.table:
            raise SpeechprocError("--readme needs --table (the generated table is what goes into the README)")
        text = Path(args.table).read_text(encoding="utf-8").replace(f"# {args.title}\n", f"**{args.title}**\n", 1)
        update_readme_section(args.readme, args.section or Path(args.table).stem, text)
    return 0


if __name__ == "__main__":
    run_verb(main)
