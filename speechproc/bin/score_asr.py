"""Score ASR hypotheses against a data dir's ``text``: sclite-style reports in ESPnet's layout.

    python -m speechproc.bin.score_asr --ref data/test/text --hyp exp/m/decode_test/text \\
        [--utt2spk data/test/utt2spk] [--unit word char] [--normalize none|upper|lower] exp/m/decode_test

writes ``<out-dir>/score_wer/`` and ``<out-dir>/score_cer/`` (``result.txt``, ``score.json``,
``ref.trn``, ``hyp.trn``) and prints Kaldi's ``compute-wer`` lines
(``%WER 7.38 [ 31 / 420, 10 ins, 5 del, 16 sub ]``). Without ``--utt2spk`` the ``utt2spk`` next
to ``--ref`` is used when it exists. ``--results exp`` then rewrites ``exp/RESULTS.md`` with every scored decode
dir under ``exp`` (``make_results exp``).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from speechproc.score.asr import METRICS, NORMALIZE_MODES, SPACE_SYMBOL, UNITS, read_kaldi_text, score, write_report
from speechproc.utils import SpeechprocError, atomic_output_dir, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``score_asr``."""
    p = argparse.ArgumentParser(
        prog="score_asr",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--ref", required=True, help="reference Kaldi text file, e.g. data/test/text")
    p.add_argument("--hyp", required=True, help="hypothesis Kaldi text file, e.g. exp/m/decode_test/text")
    p.add_argument(
        "--utt2spk",
        default=None,
        help="utt2spk for the per-speaker summary (default: utt2spk beside --ref if present, "
        "else the utterance id up to its first '-')",
    )
    p.add_argument(
        "--unit",
        nargs="+",
        default=["word", "char"],
        metavar="UNIT",
        help=f"scoring units, from: {' '.join(UNITS)} (default: word char)",
    )
    p.add_argument(
        "--normalize", choices=NORMALIZE_MODES, default="none", help="text normalisation of both sides (default: none)"
    )
    p.add_argument(
        "--space-symbol",
        default=SPACE_SYMBOL,
        help="word-boundary token for --unit char (default: <space>); '' drops spaces (Kaldi-style CER)",
    )
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("--results", default=None, metavar="EXP_ROOT",
                   help="then rewrite EXP_ROOT/RESULTS.md from every scored decode dir there (make_results)")
    p.add_argument("out_dir", nargs="?", help="output dir (the decode dir); score_<metric>/ is written inside")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Score and write one ``score_<metric>`` dir per unit; print the Kaldi summary lines."""
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.out_dir is None and args.unit and args.unit[-1] not in UNITS:
        args.out_dir = args.unit.pop()  # `--unit word char OUT_DIR`: the list swallowed the positional
    if args.out_dir is None:
        parser.error("the output dir (OUT_DIR) is required")
    bad = [u for u in args.unit if u not in UNITS]
    if bad or not args.unit:
        parser.error(
            f"argument --unit: invalid choice {bad[0] if bad else '(none)'!r} (choose from {', '.join(UNITS)})"
        )
    setup_logging(args.verbose)
    units: List[str] = list(dict.fromkeys(args.unit))
    ref = read_kaldi_text(args.ref)
    hyp = read_kaldi_text(args.hyp)
    utt2spk_path = args.utt2spk
    if utt2spk_path is None and (Path(args.ref).parent / "utt2spk").is_file():
        utt2spk_path = str(Path(args.ref).parent / "utt2spk")
        logger.info("speakers from %s", utt2spk_path)
    utt2spk = None
    if utt2spk_path is not None:
        utt2spk = read_kaldi_text(utt2spk_path)
        for utt, spk in utt2spk.items():
            if not spk or len(spk.split()) != 1:
                raise SpeechprocError(
                    f"{utt2spk_path}: utterance '{utt}' must map to exactly one speaker id, got {spk!r}"
                )
    command = " ".join(
        shlex.quote(a)
        for a in ["python", "-m", "speechproc.bin.score_asr"] + list(sys.argv[1:] if argv is None else argv)
    )
    out_dir = Path(args.out_dir)
    space_symbol = args.space_symbol or None
    for unit in units:
        result = score(
            ref,
            hyp,
            unit,
            utt2spk,
            normalize=args.normalize,
            space_symbol=space_symbol,
            ref_name=args.ref,
            hyp_name=args.hyp,
            utt2spk_name=utt2spk_path or "utt2spk",
        )
        result.meta.update({"set": Path(args.ref).parent.name, "command": command})
        with atomic_output_dir(out_dir / f"score_{METRICS[unit]}") as tmp:
            write_report(result, tmp)
        for line in result.kaldi_lines():
            print(line)
        logger.info("wrote %s", out_dir / f"score_{METRICS[unit]}" / "result.txt")
    if args.results:
        from speechproc.bin import make_results

        make_results.main([args.results])
    return 0


if __name__ == "__main__":
    run_verb(main)
