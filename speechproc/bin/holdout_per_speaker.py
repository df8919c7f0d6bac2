"""Hold out N utterances of every speaker of a data dir (a validation set of the training speakers).

    python -m speechproc.bin.holdout_per_speaker --num-per-speaker 2 data/train data/train_spk data/dev_spk

Speaker classification (``task: spk``) validates on other utterances of its training speakers; this
writes IN minus the held-out utterances to TRAIN_OUT and the held-out ones to HELDOUT_OUT (chosen at
random per speaker with ``--seed``, deterministic). Speakers with fewer than N + ``--min-left``
utterances stay whole in TRAIN_OUT. See :func:`speechproc.tasks.spk.speaker_holdout`.
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.tasks.spk import speaker_holdout
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="holdout_per_speaker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-per-speaker", type=int, default=2, help="utterances held out per speaker (default 2)")
    p.add_argument("--min-left", type=int, default=2, help="utterances a speaker keeps at least in train (default 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the choice (default 0)")
    p.add_argument("in_dir", help="input data dir")
    p.add_argument("train_out", help="output data dir: the remaining utterances")
    p.add_argument("heldout_out", help="output data dir: the held-out utterances")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    data = DataDir.load(args.in_dir)
    train, held = speaker_holdout(data, args.num_per_speaker, args.min_left, args.seed)
    train.save(args.train_out)
    held.save(args.heldout_out)
    logger.info("wrote %s (%d utterances, %d speakers) and %s (%d utterances, %d speakers)", args.train_out,
                len(train), len(train.speakers), args.heldout_out, len(held), len(held.speakers))
    return 0


if __name__ == "__main__":
    run_verb(main)
