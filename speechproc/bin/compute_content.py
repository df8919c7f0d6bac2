"""Compute recognition-synthesis VC inputs (Whisper encoder content + log-F0) of data dirs into dump dirs.

    compute_content [--whisper tiny.en] [--layer 4] [--mel-config conf/mel.yaml] [--nj N]
                    DATA_DIR DUMP_DIR [DATA_DIR DUMP_DIR ...]
    compute_content --like ../../ljspeech_teacher/tts/exp/recsynth DATA_DIR DUMP_DIR   # a pre-trained decoder's settings

Each DUMP_DIR gets the data dir files, ``feats.scp``, ``utt2num_frames`` and ``content.json``
(see :mod:`speechproc.features.content`): per utterance ``(T, C + 2)`` on the frame grid of the
mel settings (``--mel-config``, the same file ``compute_mel`` was given), so that the content dump
and the mel dump of one data dir line up frame by frame.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from speechproc.features.content import ContentConfig, content_config_of, dump_content
from speechproc.features.mel import load_mel_config
from speechproc.utils import path_pairs, run_verb, setup_logging


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``compute_content``."""
    d = ContentConfig()
    p = argparse.ArgumentParser(prog="compute_content", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--whisper", default=d.whisper, help=f"Whisper model of the content encoder (default {d.whisper})")
    p.add_argument("--layer", type=int, default=d.layer,
                   help=f"encoder layer whose output is the content (default {d.layer}: tiny's last)")
    p.add_argument("--mel-config", default=None, help="yaml of the MelConfig whose frame grid the features follow "
                                                      "(default: 22.05 kHz, hop 256)")
    p.add_argument("--f0-floor", type=float, default=d.f0_floor, help=f"WORLD F0 floor, Hz (default {d.f0_floor})")
    p.add_argument("--f0-ceil", type=float, default=d.f0_ceil, help=f"WORLD F0 ceiling, Hz (default {d.f0_ceil})")
    p.add_argument("--like", default=None, metavar="DIR",
                   help="take every setting from a content dump dir (content.json) or a recsynth exp dir (the content "
                        "dump it was trained on), so that new features match a pre-trained decoder")
    p.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("dirs", nargs="+", metavar="DATA_DIR DUMP_DIR", help="pairs of input data dir and output dump dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Dump the content features of each DATA_DIR into its DUMP_DIR."""
    args = get_parser().parse_args(argv)
    setup_logging()
    if args.like:
        config = content_config_of(args.like)
    else:
        config = ContentConfig.for_mel(load_mel_config(args.mel_config), whisper=args.whisper, layer=args.layer,
                                       f0_floor=args.f0_floor, f0_ceil=args.f0_ceil)
    for data_dir, dump_dir in path_pairs(args.dirs):
        dump_content(data_dir, dump_dir, config, nj=args.nj)
    return 0


if __name__ == "__main__":
    run_verb(main)
