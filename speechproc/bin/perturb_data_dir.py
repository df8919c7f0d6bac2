"""Speed-perturbed copies of a data dir, combined (Kaldi ``perturb_data_dir_speed_3way.sh``).

    python -m speechproc.bin.perturb_data_dir --factors 0.9 1.0 1.1 data/train data/train_sp

Ids get the prefix ``sp<factor>-`` (``sp0.9-spk1-utt1``, speaker ``sp0.9-spk1``); audio is read
through ``python -m speechproc.bin.wav_speed`` pipes; ``utt2dur`` is computed if absent and
divided by the factor.
"""
from __future__ import annotations

import argparse
import logging
from typing import List, Optional, Sequence, Tuple

from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--factors", nargs="+", default=None, metavar="F",
                   help="speed factors (default: 0.9 1.0 1.1)")
    p.add_argument("dirs", nargs="*", metavar="DIR",
                   help="IN and OUT: input data dir, output data dir (all factors combined)")
    return p


def _split_args(factors: Optional[List[str]], dirs: List[str]) -> Tuple[List[float], str, str]:
    """``--factors 0.9 1.1 IN OUT``: argparse gives every token to --factors; take IN OUT back."""
    factors = list(factors or [])
    dirs = list(dirs)
    while len(dirs) < 2 and factors:
        dirs.insert(0, factors.pop())
    if len(dirs) != 2:
        raise SpeechprocError(
            f"expected IN and OUT data dirs, got {dirs}; fix: perturb_data_dir --factors 0.9 1.0 1.1 IN OUT"
        )
    vals = []
    for f in factors or ["0.9", "1.0", "1.1"]:
        try:
            vals.append(float(f))
        except ValueError:
            raise SpeechprocError(f"--factors: '{f}' is not a number; fix: e.g. --factors 0.9 1.0 1.1 IN OUT") from None
        if not vals[-1] > 0:
            raise SpeechprocError(f"--factors: {f} is not positive; fix: e.g. --factors 0.9 1.0 1.1 IN OUT")
    return vals, dirs[0], dirs[1]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    factors, in_dir, out_dir = _split_args(args.factors, args.dirs)
    if len(set(factors)) != len(factors):
        raise SpeechprocError(f"--factors {factors} repeats a factor; fix: list each factor once")
    data = DataDir.load(in_dir).with_utt2dur()
    out = DataDir.combine([data.speed_perturb(f) for f in factors])
    out.save(out_dir)
    logger.info("wrote %s: %d utterances (factors %s)", out_dir, len(out), " ".join(map(str, factors)))
    return 0


if __name__ == "__main__":
    run_verb(main)
