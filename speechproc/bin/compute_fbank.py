"""Compute Kaldi-compatible fbank features of a data dir and write a dump dir.

    compute_fbank [--num-mel-bins 80] [--sample-rate 16000] [--nj 1] DATA_DIR DUMP_DIR

DUMP_DIR receives the data dir files plus ``feats.scp``, ``utt2num_frames``, ``feats/<utt>.npy``
and ``fbank.json`` (see :mod:`speechproc.features.fbank`). It is written to a temporary name and
renamed when complete.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from speechproc.features.fbank import add_fbank_arguments, dump_fbank, fbank_config_from_args
from speechproc.utils import run_verb, setup_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compute_fbank",
        description="Compute Kaldi-compatible log-mel fbank features of DATA_DIR into DUMP_DIR.",
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="Kaldi data dir (wav.scp, utt2spk, ...)")
    parser.add_argument("dump_dir", metavar="DUMP_DIR", help="output dump dir (replaced if it exists)")
    parser.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    add_fbank_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    config = fbank_config_from_args(args)
    dump_fbank(args.data_dir, args.dump_dir, config, nj=args.nj)
    return 0


if __name__ == "__main__":
    run_verb(main)
