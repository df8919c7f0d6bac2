"""The continual fine-tuning table (accuracy matrix, gain, forgetting, general change) and plot of a recipe.

    python -m speechproc.bin.continual_results exp --methods full lora_merged lora_switch \\
        --sets general an4 yesno --table exp/RESULTS.md --plot exp/general_wer.png --readme README.md

Every figure comes from the version cards under ``exp/<method>/v<N>/card.json`` and the zero-shot decode dirs
(:mod:`speechproc.score.continual`); the table names the commit and this command.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import atomic_write_text, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dir", help="the recipe's exp dir (one dir per method)")
    p.add_argument("--methods", nargs="+", default=[], help="method dirs, in table order")
    p.add_argument("--sets", nargs="+", required=True, help="evaluation sets, in column order")
    p.add_argument("--general", default="general", help="the general-domain set (default general)")
    p.add_argument("--zeroshot", default=None, help="zero-shot dir (default EXP_DIR/zeroshot)")
    p.add_argument("--tolerance", type=float, default=0.10, help="general-domain tolerance of the cards")
    p.add_argument("--title", default="Continual fine-tuning", help="table title")
    p.add_argument("--table", required=True, help="markdown file to write")
    p.add_argument("--plot", default=None, help="PNG of the general-domain WER per period")
    p.add_argument("--readme", default=None, help="README whose results section gets the table")
    p.add_argument("--section", default="continual", help="README section key (default continual)")
    p.add_argument("--deploy", nargs=2, metavar=("VERSION_DIR", "CT2_DIR"), default=None,
                   help="instead: the table of a version against its CTranslate2 export (export_ct2), on --sets")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from speechproc.score.continual import decoding_note, format_continual_table, format_deploy_table, plot_general_wer
    from speechproc.score.results import environment_info, update_readme_section

    args = get_parser().parse_args(argv)
    setup_logging()
    env = environment_info(Path.cwd())
    command = shlex.join(["python", "-m", "speechproc.bin.continual_results"] + list(sys.argv[1:] if argv is None
                                                                                    else argv))
    if args.deploy:
        text = (f"**{args.title}**\n\n- WER % after Whisper's English normaliser on both sides\n"
                f"- commit {env['git commit']}, {env['date']}, {env['CPU']}, torch {env['torch version']}\n"
                f"- command (in the recipe dir): `{command}`\n\n" + format_deploy_table(*args.deploy, args.sets))
        atomic_write_text(Path(args.table), text)
        if args.readme:
            update_readme_section(args.readme, args.section, text)
        return 0
    table = format_continual_table(args.exp_dir, args.methods, args.sets, args.general, args.zeroshot, args.tolerance)
    text = (f"**{args.title}**\n\n"
            "- WER % after Whisper's English normaliser on both sides; decoding: "
            f"{decoding_note(args.exp_dir, args.methods, args.sets, args.zeroshot)}\n"
            "- new-task gain: mean over periods of (zero-shot WER - WER right after the period) on its own set; "
            "forgetting: mean over earlier periods of (final WER - WER right after that period); general "
            f"change: final - zero-shot WER on `{args.general}`\n"
            f"- commit {env['git commit']}, {env['date']}, {env['CPU']}, torch {env['torch version']}\n"
            f"- command (in the recipe dir): `{command}`\n\n{table}")
    if args.plot:
        png = plot_general_wer(args.exp_dir, args.methods, args.general, args.plot, args.zeroshot)
        text += f"\n![general-domain WER per period]({png.as_posix()})\n"
    atomic_write_text(Path(args.table), text)
    if args.readme:
        update_readme_section(args.readme, args.section, text)
    logger.info("wrote %s", args.table)
    return 0


if __name__ == "__main__":
    run_verb(main)
