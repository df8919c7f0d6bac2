"""Accumulate global CMVN statistics of a dump dir (or of a data dir, fbank on the fly).

    compute_cmvn_stats DUMP_OR_DATA_DIR OUT_FILE

OUT_FILE is an ``.npz`` with ``sum``, ``sum_sq``, ``count``, ``mean`` and ``std``
(see :mod:`speechproc.features.cmvn`). For a data dir the fbank options choose the features;
for a dump dir they are ignored (its features are read as they are).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.features.cmvn import write_cmvn_stats
from speechproc.features.fbank import FBANK_OPTIONS, add_fbank_arguments, fbank_config_from_args
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compute_cmvn_stats",
        description="Global CMVN stats (sum, sum of squares, frame count) of a dump dir or data dir.",
    )
    parser.add_argument("path", metavar="DUMP_OR_DATA_DIR", help="dump dir (feats.scp) or data dir (wav.scp)")
    parser.add_argument("out_file", metavar="OUT_FILE", help="output .npz file (e.g. dump/train/cmvn.npz)")
    add_fbank_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    config = fbank_config_from_args(args)
    fbank_options = [a for a in FBANK_OPTIONS if getattr(args, a, None) is not None]
    if (Path(args.path) / "feats.scp").is_file() and fbank_options:
        logger.warning("%s is a dump dir: its features are used as they are, ignoring %s",
                       args.path, ", ".join("--" + a.replace("_", "-") for a in fbank_options))
    write_cmvn_stats(args.path, args.out_file, config)
    return 0


if __name__ == "__main__":
    run_verb(main)
