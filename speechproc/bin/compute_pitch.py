"""Add the frame-level F0 (FastSpeech 2's pitch target) to existing mel dump dirs.

    compute_pitch [--nj N] DATA_DIR DUMP_DIR [DATA_DIR DUMP_DIR ...]

Each DUMP_DIR (written by ``compute_mel`` from DATA_DIR) gains ``pitch/``, ``pitch.scp`` and ``pitch_stats.json``
(see :mod:`speechproc.features.pitch`); its mels are not touched. ``compute_mel --pitch`` does the same while
dumping.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from speechproc.utils import path_pairs, run_verb, setup_logging


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``compute_pitch``."""
    p = argparse.ArgumentParser(prog="compute_pitch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("dirs", nargs="+", metavar="DATA_DIR DUMP_DIR", help="pairs of data dir and its mel dump dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Dump the pitch of each pair."""
    args = get_parser().parse_args(argv)
    setup_logging()
    from speechproc.features.pitch import dump_pitch

    for data_dir, dump_dir in path_pairs(args.dirs):
        dump_pitch(data_dir, dump_dir, nj=args.nj)
    return 0


if __name__ == "__main__":
    run_verb(main)
