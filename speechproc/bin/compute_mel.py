"""Compute TTS log-mel spectrograms of data dirs into mel dump dirs.

    compute_mel [--mel-config conf/mel.yaml] [--nj N] [--cmvn-stats OUT.npz] [--pitch] DATA_DIR DUMP_DIR [...]

Each DUMP_DIR gets the data dir files, ``feats.scp``, ``utt2num_frames`` and ``mel.json``
(see :mod:`speechproc.features.mel`); audio at another sample rate is resampled. ``--cmvn-stats`` then writes
the normalisation statistics of the first DUMP_DIR (put the training set first), as
``speechproc compute_cmvn_stats DUMP_DIR OUT.npz`` does. ``--pitch`` adds each dump's frame-level F0 (WORLD, at
the mel hop) and its ``pitch_stats.json``, the FastSpeech 2 pitch target (:mod:`speechproc.features.pitch`;
``compute_pitch`` adds it to an existing dump).
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.features.mel import dump_mel, load_mel_config
from speechproc.utils import path_pairs, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``compute_mel``."""
    p = argparse.ArgumentParser(prog="compute_mel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mel-config", default=None, help="yaml of MelConfig fields (default: 22.05 kHz, 80 bins, "
                                                      "1024 FFT, hop 256)")
    p.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--cmvn-stats", default=None, metavar="OUT.npz",
                   help="also write the normalisation statistics of the first dump dir here")
    p.add_argument("--pitch", action="store_true", help="also dump the frame-level F0 (FastSpeech 2's pitch target)")
    p.add_argument("dirs", nargs="+", metavar="DATA_DIR DUMP_DIR", help="pairs of input data dir and output dump dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Dump the log-mel of each DATA_DIR into its DUMP_DIR."""
    args = get_parser().parse_args(argv)
    setup_logging()
    config = load_mel_config(args.mel_config)
    pairs = path_pairs(args.dirs)
    for data_dir, dump_dir in pairs:
        dump_mel(data_dir, dump_dir, config, nj=args.nj)
        if args.pitch:
            from speechproc.features.pitch import dump_pitch

            dump_pitch(data_dir, dump_dir, nj=args.nj)
    if args.cmvn_stats:
        from speechproc.features.cmvn import write_cmvn_stats

        write_cmvn_stats(pairs[0][1], args.cmvn_stats)
    return 0


if __name__ == "__main__":
    run_verb(main)
