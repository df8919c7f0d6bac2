"""Compute Kaldi-compatible fbank features of data dirs and write dump dirs (and global CMVN statistics).

    compute_fbank [--num-mel-bins 80] [--sample-rate 16000] [--nj 1] [--cmvn-stats OUT.npz] \\
        DATA_DIR DUMP_DIR [DATA_DIR DUMP_DIR ...]

Each DUMP_DIR receives its data dir's files plus ``feats.scp``, ``utt2num_frames``, ``feats/<utt>.npy``
and ``fbank.json`` (see :mod:`speechproc.features.fbank`). It is written to a temporary name and
renamed when complete. ``--cmvn-stats`` then writes the global CMVN statistics of the first DUMP_DIR (put the
training set first), as ``compute_cmvn_stats`` does.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from speechproc.features.fbank import add_fbank_arguments, dump_fbank, fbank_config_from_args
from speechproc.utils import path_pairs, run_verb, setup_logging


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compute_fbank",
        description="Compute Kaldi-compatible log-mel fbank features of each DATA_DIR into its DUMP_DIR.",
    )
    parser.add_argument("dirs", nargs="+", metavar="DATA_DIR DUMP_DIR",
                        help="pairs of a Kaldi data dir (wav.scp, utt2spk, ...) and its output dump dir (replaced "
                             "if it exists)")
    parser.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--cmvn-stats", default=None, metavar="OUT.npz",
                        help="also write the global CMVN statistics of the first dump dir here")
    add_fbank_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    pairs = path_pairs(args.dirs)
    config = fbank_config_from_args(args)
    for data_dir, dump_dir in pairs:
        dump_fbank(data_dir, dump_dir, config, nj=args.nj)
    if args.cmvn_stats:
        from speechproc.features.cmvn import write_cmvn_stats

        write_cmvn_stats(pairs[0][1], args.cmvn_stats, config)
    return 0


if __name__ == "__main__":
    run_verb(main)
