"""Copy a data dir with its ``text`` normalised (the normalisations of ``score_asr --normalize``).

    python -m speechproc.bin.normalize_text --normalize whisper_en data/train_nodev data/train_nodev_whisper_en

An LM that rescores Whisper's hypotheses (``rescore_nbest``) is trained on such a copy: Whisper writes cased,
punctuated text with digits, and its hypotheses are normalised the same way before the LM scores them.
Utterances whose text normalises to nothing are kept with an empty transcript and counted in the log.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
from typing import Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    from speechproc.score.asr import NORMALIZE_MODES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--normalize", required=True, choices=list(NORMALIZE_MODES), help="text normalisation")
    p.add_argument("data_dir", help="input data dir (with text)")
    p.add_argument("out_dir", help="output data dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    from speechproc.data.datadir import DataDir
    from speechproc.score.asr import normalize_for_scoring

    data = DataDir.load(args.data_dir)
    if data.text is None:
        raise SpeechprocError(f"{args.data_dir}: no text file to normalise")
    text = {u: normalize_for_scoring(t, args.normalize) for u, t in data.text.items()}
    empty = sum(not t for t in text.values())
    dataclasses.replace(data, text=text).save(args.out_dir)
    logger.info("%s -> %s: %d transcripts normalised (%s), %d of them empty", args.data_dir, args.out_dir,
                len(text), args.normalize, empty)
    return 0


if __name__ == "__main__":
    run_verb(main)
