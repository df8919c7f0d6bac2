"""Check a Kaldi data dir: sorted unique keys, consistent files, speaker prefixes, transcripts, audio.

    python -m speechproc.bin.validate_data_dir [--check-audio] [--sample-rate N] [--token-dir D] data/train

By default the header of every plain audio file is read (cheap): unreadable, empty or multi-channel files
are problems. ``--check-audio`` decodes everything (pipes too); ``--no-header-check`` reads no audio.

With ``--token-dir`` it also counts the utterances whose text has symbols outside that token list (they would
become ``<unk>``) and names the symbols.

Exits 1 and lists every problem (file, key or line, value, fix) when the dir is invalid.
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check-audio", action="store_true",
                   help="decode every recording (catches corrupt/truncated files, failing pipes, stereo)")
    p.add_argument("--sample-rate", type=int, default=None, help="expected sample rate in Hz")
    p.add_argument("--no-header-check", action="store_true", help="read no audio at all (only the text files)")
    p.add_argument("--token-dir", default=None, help="also report text symbols outside this token list")
    p.add_argument("data_dir", help="the data dir to check")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    data = DataDir.load(args.data_dir, validate=False)
    data.validate(check_audio=args.check_audio, sample_rate=args.sample_rate, path_for_messages=args.data_dir,
                  headers=not args.no_header_check)
    checked = " (audio decoded)" if args.check_audio else "" if args.no_header_check else " (audio headers read)"
    logger.info("%s is valid: %d utterances, %d speakers, %d recordings%s", args.data_dir, len(data),
                len(data.speakers), len(data.wav_scp), checked)
    if args.token_dir:
        from speechproc.text.tokenizer import load_tokenizer

        if data.text is None:
            logger.warning("%s has no text file: nothing to check against %s", args.data_dir, args.token_dir)
        elif not load_tokenizer(args.token_dir).report_unknown(data.text, args.data_dir):
            logger.info("%s: every symbol of the text is in the token list %s", args.data_dir, args.token_dir)
    return 0


if __name__ == "__main__":
    run_verb(main)
