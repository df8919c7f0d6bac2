"""Make a data dir consistent: keep the utterances present and valid in every file, sort, dedupe,
rewrite spk2utt, and print what was dropped and why (Kaldi ``utils/fix_data_dir.sh``).

    python -m speechproc.bin.fix_data_dir data/train            # in place (atomically)
    python -m speechproc.bin.fix_data_dir data/train data/train_fixed

By default the header of every plain audio file is read, and utterances whose file is unreadable, empty or
not mono are dropped (each listed); ``--check-audio`` decodes everything, ``--no-header-check`` reads no audio.
Files that are not data-dir files (e.g. ``frame_shift``, ``conf/``) are copied along; ``split*``
dirs are dropped, being stale after a fix.
"""
from __future__ import annotations

import argparse
import logging
import shutil
from pathlib import Path
from typing import Optional, Sequence

from speechproc.data.datadir import DataDir, is_data_file
from speechproc.utils import SpeechprocError, atomic_output_dir, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check-audio", action="store_true",
                   help="also drop utterances whose audio does not decode or is not mono")
    p.add_argument("--sample-rate", type=int, default=None, help="also drop audio with another sample rate")
    p.add_argument("--no-header-check", action="store_true", help="read no audio at all (only the text files)")
    p.add_argument("data_dir", help="input data dir")
    p.add_argument("out_dir", nargs="?", default=None, help="output data dir (default: fix in place)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    src = Path(args.data_dir)
    out = Path(args.out_dir) if args.out_dir else src
    data = DataDir.load(src, validate=False)
    fixed, report = data.fix(check_audio=args.check_audio, sample_rate=args.sample_rate,
                             headers=not args.no_header_check)
    problems = fixed.problems(path_for_messages=out, include_load_issues=False)
    if problems:
        raise SpeechprocError(
            f"fix_data_dir: {src} cannot be fixed ({report[-1]}); nothing written. Remaining problems:\n  "
            + "\n  ".join(problems[:25])
        )
    with atomic_output_dir(out) as tmp:
        fixed.write_files(tmp)
        for p in sorted(src.iterdir()):
            if is_data_file(p.name) or p.name.startswith("."):
                continue
            if p.is_dir() and p.name.startswith("split"):
                report.append(f"removed {p.name}/: stale after fixing")
                continue
            if p.is_dir():
                shutil.copytree(p, tmp / p.name, symlinks=True)
            else:
                shutil.copy2(p, tmp / p.name)
    print("\n".join(report))
    logger.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    run_verb(main)
