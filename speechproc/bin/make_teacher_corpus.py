"""Synthesize a single-speaker training corpus from LJSpeech's text with a teacher TTS.

    make_teacher_corpus --num-utts 1200 --num-dev 50 --num-eval 50 --nj 2 data

Reads ``LJSpeech-1.1/metadata_full_text.csv`` of the LJSpeech corpus (``--corpus-dir``, else
``$LJSPEECH``, else ``$SPEECHPROC_CORPORA/ljspeech``) and chooses disjoint random sentences
(seeded; 20-200 characters; never the clips of the corpus's ``metadata.csv``, i.e. the real
clips used for speaker adaptation and its evaluation),
synthesizes them with ``--engine`` (default the ``hibari-tts`` teacher, voice ``heart``,
24 kHz) into ``OUT_DIR/wavs/`` and writes the data dirs ``OUT_DIR/{train,dev,eval}`` and
``OUT_DIR/corpus.json`` (hours per set, engine and version, synthesis real-time factor).
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.decode.tts import ENGINES, make_synthetic_corpus, read_ljspeech_text, select_sentences
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``make_teacher_corpus``."""
    p = argparse.ArgumentParser(prog="make_teacher_corpus", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-utts", type=int, required=True, help="training sentences (1500 give about 2.5 h)")
    p.add_argument("--num-dev", type=int, default=50, help="validation sentences (default 50)")
    p.add_argument("--num-eval", type=int, default=50, help="held-out evaluation sentences (default 50)")
    p.add_argument("--corpus-dir", default=None, help="LJSpeech corpus (default $LJSPEECH or $SPEECHPROC_CORPORA/ljspeech)")
    p.add_argument("--text", default=None, help="sentences 'id|text|normalised text' (default: the corpus's "
                                               "LJSpeech-1.1/metadata_full_text.csv)")
    p.add_argument("--exclude-metadata", default=None, help="clip ids never chosen (default: the corpus's "
                                                           "LJSpeech-1.1/metadata.csv, the clips with real audio)")
    p.add_argument("--engine", choices=ENGINES, default="hibari", help="synthesizer (default hibari)")
    p.add_argument("--voice", default=None, help="voice of the engine (hibari: heart)")
    p.add_argument("--speaker", default="hibari", help="speaker id, prefix of the utterance ids (default hibari)")
    p.add_argument("--min-chars", type=int, default=20, help="shortest sentence (characters)")
    p.add_argument("--max-chars", type=int, default=200, help="longest sentence (characters)")
    p.add_argument("--seed", type=int, default=0, help="sentence selection and teacher noise seed")
    p.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("out_dir", help="output folder (wavs/, train/, dev/, eval/, corpus.json)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Select the sentences and synthesize them."""
    args = get_parser().parse_args(argv)
    setup_logging()
    text, exclude_file = args.text, args.exclude_metadata
    if text is None or exclude_file is None:
        from speechproc.data.corpora import resolve_corpus_dir
        from speechproc.data.corpora.ljspeech import ljspeech_root

        root = ljspeech_root(resolve_corpus_dir("ljspeech", args.corpus_dir))
        text = text or str(root / "metadata_full_text.csv")
        exclude_file = exclude_file or str(root / "metadata.csv")
    texts = read_ljspeech_text(text)
    exclude = list(read_ljspeech_text(exclude_file))
    eval_ids, dev_ids, train_ids = select_sentences(texts, [args.num_eval, args.num_dev, args.num_utts], exclude,
                                                    args.min_chars, args.max_chars, args.seed)
    sets = {"train": train_ids, "dev": dev_ids, "eval": eval_ids}
    options: dict = {"seed": args.seed} if args.engine == "hibari" else {}
    if args.voice:
        options["voice"] = args.voice
    make_synthetic_corpus(texts, args.out_dir, {k: v for k, v in sets.items() if v}, args.engine, options,
                          args.speaker, args.nj)
    return 0


if __name__ == "__main__":
    run_verb(main)
