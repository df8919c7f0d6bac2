"""Generate RESULTS.md from every ``score_*/score.json`` below an experiment dir.

    python -m speechproc.bin.make_results exp [--out RESULTS.md]

One markdown table per model (decode dir, set, WER, CER, #utts) under an environment header
(date, git commit, Python/torch versions, CPU, this command line).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from speechproc.score.results import write_results_md
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``make_results``."""
    p = argparse.ArgumentParser(
        prog="make_results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("exp_dir", help="experiment root, e.g. exp")
    p.add_argument("--out", default=None, help="output file (default: <exp_dir>/RESULTS.md)")
    p.add_argument("--finetune-table", action="store_true",
                   help="add the before/after table of a fine-tuning recipe (strategy, trainable parameters, "
                        "train time, peak RSS, dev/test WER and CER, raw and Whisper-normalised)")
    p.add_argument("--dev-set", default="train_dev", help="dev set of --finetune-table (default train_dev)")
    p.add_argument("--test-set", default="test", help="test set of --finetune-table (default test)")
    p.add_argument("--short-commands-table", nargs="+", default=None, metavar="SET",
                   help="instead of the per-model tables: one table of every model dir, WER on the first SET (whole "
                        "utterances) and on the other SETs (one-word clips); a SET written nonspeech=NAME counts the "
                        "clips of NAME that got any words")
    p.add_argument("--readme", default=None, help="also write the tables into this README, between the markers "
                   "<!-- results:SECTION --> and <!-- /results:SECTION -->")
    p.add_argument("--section", default="results", help="the README section of --readme (default results)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Collect scores and write RESULTS.md."""
    args = get_parser().parse_args(argv)
    setup_logging()
    cli = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.make_results"] + cli)
    out = Path(args.out) if args.out else Path(args.exp_dir) / "RESULTS.md"
    if args.short_commands_table:
        from speechproc.score.results import format_short_commands_table, results_header
        from speechproc.utils import atomic_write_text

        sets = [s for s in args.short_commands_table if not s.startswith("nonspeech=")]
        nonspeech = [s.split("=", 1)[1] for s in args.short_commands_table if s.startswith("nonspeech=")]
        table = format_short_commands_table(args.exp_dir, sets[0], sets[1:], nonspeech[0] if nonspeech else None)
        atomic_write_text(out, "\n".join(results_header(args.exp_dir, command) + ["## Short commands", "", table]))
    else:
        write_results_md(args.exp_dir, out, command,
                         finetune_sets=(args.dev_set, args.test_set) if args.finetune_table else None)
    logger.info("wrote %s", out)
    if args.readme:
        from speechproc.score.results import update_readme_section

        body = [ln for ln in out.read_text(encoding="utf-8").splitlines()
                if not ln.startswith("<!-- Generated") and ln != "# RESULTS"]
        body = [("###" + ln[2:]) if ln.startswith("## ") else ln for ln in body]  # under the README's own heading
        update_readme_section(args.readme, args.section, "\n".join(body).strip() + "\n")
        logger.info("wrote section %s of %s", args.section, args.readme)
    return 0


if __name__ == "__main__":
    run_verb(main)
