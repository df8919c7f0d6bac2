"""Train a tokenizer and write a token dir (tokens.txt, tokenizer.json, sentencepiece model).

    train_tokenizer --type bpe|unigram|char|word [--vocab-size 30] [--extra-text FILE]...
                    [--cleaner NAME] TEXT_OR_DATA_DIR OUT_DIR

TEXT_OR_DATA_DIR is a data dir (its ``text``) or a plain text file (one sentence per line).
The conventional OUT_DIR is ``data/token/<type><size>`` (see :mod:`speechproc.text.tokenizer`).
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.text.normalize import CLEANERS
from speechproc.text.tokenizer import TOKENIZER_TYPES, load_training_text, train_tokenizer
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_tokenizer",
        description="Train a bpe/unigram (sentencepiece), char or word tokenizer and write a token dir.",
    )
    parser.add_argument("source", metavar="TEXT_OR_DATA_DIR", help="data dir (uses its text) or a text file")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="token dir to write, e.g. data/token/bpe30")
    parser.add_argument("--type", dest="token_type", choices=TOKENIZER_TYPES, default="bpe",
                        help="tokenizer type (default bpe)")
    parser.add_argument("--vocab-size", type=int, default=None,
                        help="bpe/unigram: token list size incl. <blank>, <unk>, <sos/eos> (default 30); "
                             "char/word: maximum size (default: all symbols)")
    parser.add_argument("--extra-text", metavar="FILE", action="append", default=[],
                        help="more training text, one sentence per line (repeatable)")
    parser.add_argument("--cleaner", action="append", choices=sorted(CLEANERS), default=None,
                        help="text cleaner applied before training and by encode (repeatable; default none)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    texts = load_training_text(args.source, args.extra_text)
    tokenizer = train_tokenizer(texts, args.token_type, args.vocab_size, cleaners=args.cleaner)
    tokenizer.save(args.out_dir)
    logger.info("tokens: %s", " ".join(tokenizer.tokens[:12]) + (" ..." if tokenizer.vocab_size > 12 else ""))
    return 0


if __name__ == "__main__":
    run_verb(main)
