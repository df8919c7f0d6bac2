"""Predicted naturalness (DistillMOS) of the audio of data dirs.

    predict_mos data/eval exp/tacotron2/synth_eval_griffin_lim [DATA_DIR ...] [--table FILE]

For each DATA_DIR (any data dir with a ``wav.scp``; a synthesis or conversion dir is one) writes
``DATA_DIR/utt2mos`` (``--out-name``), one ``utt score`` line per utterance, and logs the mean; ``--table``
also writes a markdown table of all dirs. See :mod:`speechproc.score.mos`.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import atomic_write_text, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``predict_mos``."""
    p = argparse.ArgumentParser(prog="predict_mos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default 8)")
    p.add_argument("--nthreads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--out-name", default="utt2mos", help="per-utterance file written into each dir (default utt2mos)")
    p.add_argument("--table", default=None, help="also write a markdown table of all dirs here")
    p.add_argument("data_dirs", nargs="+", metavar="DATA_DIR", help="data dirs whose wav.scp gives the audio")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rate every data dir; write ``utt2mos`` files and the optional table."""
    import torch

    from speechproc.score.mos import MOSPredictor, predict_data_dir, write_mos

    args = get_parser().parse_args(argv)
    setup_logging()
    torch.set_num_threads(args.nthreads)
    predictor = MOSPredictor(batch_size=args.batch_size)
    rows = []
    for d in args.data_dirs:
        scores = predict_data_dir(d, predictor)
        mean = write_mos(scores, Path(d) / args.out_name)
        logger.info("%s: predicted MOS %.3f over %d utterances (%s)", d, mean, len(scores), Path(d) / args.out_name)
        rows.append((d, len(scores), mean))
    if args.table:
        lines = ["| data dir | utts | MOS (DistillMOS) |", "|---|---:|---:|"]
        lines += [f"| {d} | {n} | {m:.2f} |" for d, n, m in rows]
        atomic_write_text(Path(args.table), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    run_verb(main)
