"""Combine data dirs with distinct utterance ids into one (Kaldi ``utils/combine_data.sh``).

    python -m speechproc.bin.combine_data_dir data/train_all data/train_a data/train_b
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="output data dir")
    p.add_argument("in_dirs", nargs="+", help="input data dirs")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    dirs = [DataDir.load(d) for d in args.in_dirs]
    out = DataDir.combine(dirs)
    out.save(args.out_dir)
    logger.info("wrote %s: %d utterances, %d speakers from %d dirs", args.out_dir, len(out), len(out.speakers),
                len(dirs))
    return 0


if __name__ == "__main__":
    run_verb(main)
