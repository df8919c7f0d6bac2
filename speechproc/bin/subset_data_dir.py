"""Write a subset of a data dir (Kaldi ``utils/subset_data_dir.sh``).

    python -m speechproc.bin.subset_data_dir --first 100 data/train data/train_100
    python -m speechproc.bin.subset_data_dir --utt-list ids.txt data/train data/train_sub
    python -m speechproc.bin.subset_data_dir --spk-list spks.txt data/train data/train_sub
    python -m speechproc.bin.subset_data_dir --random 500 --seed 1 data/train data/train_500

List files hold one id per line (further fields are ignored).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--first", type=int, help="the first N utterances in sorted order")
    g.add_argument("--utt-list", help="file with the utterance ids to keep")
    g.add_argument("--spk-list", help="file with the speaker ids to keep")
    g.add_argument("--random", type=int, help="N utterances drawn at random (--seed), kept in sorted order")
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument("in_dir", help="input data dir")
    p.add_argument("out_dir", help="output data dir")
    return p


def read_id_list(path: str) -> List[str]:
    """First field of every non-empty line of ``path``."""
    p = Path(path)
    if not p.is_file():
        raise SpeechprocError(f"{p}: id list not found; fix: check the path")
    ids = []
    for n, raw in enumerate(p.read_bytes().split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SpeechprocError(f"{p} line {n}: not valid UTF-8; fix: convert the file to UTF-8") from None
        if line.split():
            ids.append(line.split()[0])
    return ids


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    data = DataDir.load(args.in_dir)
    if args.first is not None:
        out = data.subset_first(args.first)
    elif args.random is not None:
        import random

        if not 0 < args.random <= len(data):
            raise SpeechprocError(f"--random {args.random}: {args.in_dir} has {len(data)} utterances; ask for 1 to "
                                  f"{len(data)}")
        out = data.subset(random.Random(args.seed).sample(sorted(data.utts), args.random))
    elif args.utt_list:
        ids = read_id_list(args.utt_list)
        unknown = [u for u in ids if u not in data.utt2spk]
        if unknown:
            raise SpeechprocError(f"{args.utt_list}: {len(unknown)} id(s) not in {args.in_dir}/utt2spk, e.g. "
                                  f"'{unknown[0]}'; fix: list utterance ids of {args.in_dir}")
        out = data.subset(ids)
    else:
        spks = read_id_list(args.spk_list)
        unknown = [s for s in spks if s not in data.spk2utt]
        if unknown:
            raise SpeechprocError(f"{args.spk_list}: {len(unknown)} id(s) not in {args.in_dir}/spk2utt, e.g. "
                                  f"'{unknown[0]}'; fix: list speaker ids of {args.in_dir}")
        out = data.subset_speakers(spks)
    out.save(args.out_dir)
    logger.info("wrote %s: %d of %d utterances, %d speakers", args.out_dir, len(out), len(data), len(out.speakers))
    return 0


if __name__ == "__main__":
    run_verb(main)
