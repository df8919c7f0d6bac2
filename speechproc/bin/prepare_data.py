"""Prepare Kaldi-style data dirs from a corpus in its original layout.

Usage::

    python -m speechproc.bin.prepare_data <corpus> [--corpus-dir DIR] [--src SPK --tgt SPK] \\
        [--utt2dur SET ...] [--nj 4] [--cmd local|slurm] [--cmd-conf conf/slurm.yaml] OUT_DIR

``<corpus>`` is one of an4, yesno, ljspeech, vcc2016, cmu_arctic, librispeech. The corpus is found
via ``--corpus-dir``, else ``$<CORPUS>`` (e.g. ``$AN4``), else ``$SPEECHPROC_CORPORA/<corpus>``.
One data dir per set is written under OUT_DIR (atomically, after validation), e.g. for an4
``OUT_DIR/{train,train_dev,train_nodev,test}``. ``--utt2dur`` then adds ``utt2dur`` to the named sets, every
recording decoded and checked in ``--nj`` jobs of the ``--cmd`` backend (``compute_utt2dur``).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from speechproc.data.corpora import CORPORA, prepare
from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)

_PAIR_CORPORA = ("vcc2016", "cmu_arctic")
_EVAL_CORPORA = ("ljspeech", "cmu_arctic")


def get_parser() -> argparse.ArgumentParser:
    """Command-line parser of ``prepare_data``."""
    p = argparse.ArgumentParser(
        prog="prepare_data",
        description="Write Kaldi-style data dirs (wav.scp, text, utt2spk, spk2utt) for a corpus.",
    )
    p.add_argument("corpus", choices=CORPORA, help="corpus name")
    p.add_argument("out_dir", help="folder receiving one data dir per set")
    p.add_argument("--corpus-dir", default=None,
                   help="corpus location (default: $<CORPUS>, else $SPEECHPROC_CORPORA/<corpus>)")
    p.add_argument("--src", default=None, help="vcc2016/cmu_arctic: source speaker (with --tgt); default all speakers")
    p.add_argument("--tgt", default=None, help="vcc2016/cmu_arctic: target speaker (with --src)")
    p.add_argument("--num-dev", type=int, default=None, help="an4: utterances held out of train (default 100)")
    p.add_argument("--num-eval", type=int, default=None,
                   help="ljspeech (default 4) / cmu_arctic (default 5): utterances held out as eval; 0 = none")
    p.add_argument("--parts", nargs="+", default=None, help="librispeech: parts to prepare (default: all present)")
    p.add_argument("--check-audio", action="store_true", help="open every audio file while validating (slow)")
    p.add_argument("--utt2dur", nargs="+", default=None, metavar="SET",
                   help="sets (names under OUT_DIR) to complete with utt2dur, in --nj jobs (compute_utt2dur)")
    p.add_argument("--nj", type=int, default=4, help="--utt2dur: jobs per set (default 4)")
    p.add_argument("--cmd", choices=["local", "slurm"], default="local", help="--utt2dur: job backend")
    p.add_argument("--cmd-conf", default=None, help="--utt2dur: launch configuration (YAML) of the backend")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    return p


def _options(args: argparse.Namespace) -> Dict[str, Any]:
    corpus = args.corpus
    opts: Dict[str, Any] = {"check_audio": args.check_audio}
    if (args.src is None) != (args.tgt is None):
        raise SpeechprocError("prepare_data: give --src and --tgt together (or neither for all speakers)")
    if args.src is not None:
        if corpus not in _PAIR_CORPORA:
            raise SpeechprocError(f"prepare_data: --src/--tgt apply to {' and '.join(_PAIR_CORPORA)}, not {corpus}")
        if corpus == "vcc2016":
            opts.update(src=args.src, tgt=args.tgt)
        else:
            opts.update(speakers=[args.src, args.tgt])
    elif corpus == "vcc2016":
        opts.update(src=None, tgt=None)
    if args.num_dev is not None:
        if corpus != "an4":
            raise SpeechprocError(f"prepare_data: --num-dev applies to an4, not {corpus}")
        opts["num_dev"] = args.num_dev
    if args.num_eval is not None:
        if corpus not in _EVAL_CORPORA:
            raise SpeechprocError(f"prepare_data: --num-eval applies to {' and '.join(_EVAL_CORPORA)}, not {corpus}")
        opts["num_eval"] = args.num_eval
    if args.parts is not None:
        if corpus != "librispeech":
            raise SpeechprocError(f"prepare_data: --parts applies to librispeech, not {corpus}")
        opts["parts"] = args.parts
    return opts


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` and prepare the data dirs of one corpus."""
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    sets = prepare(args.corpus, args.corpus_dir, args.out_dir, **_options(args))
    logger.info("prepare_data: %s: wrote %d data dir(s) under %s: %s", args.corpus, len(sets), args.out_dir,
                " ".join(sets))
    if args.utt2dur:
        from speechproc.bin import compute_utt2dur

        unknown = [s for s in args.utt2dur if not (Path(args.out_dir) / s / "wav.scp").is_file()]
        if unknown:
            raise SpeechprocError(f"prepare_data --utt2dur: no set {', '.join(unknown)} under {args.out_dir} (the "
                                  f"{args.corpus} sets written: {' '.join(sets)})")
        extra = ["--cmd-conf", args.cmd_conf] if args.cmd_conf else []
        compute_utt2dur.main(["--cmd", args.cmd, "--nj", str(args.nj), *extra]
                             + [str(Path(args.out_dir) / s) for s in args.utt2dur])
    return 0


if __name__ == "__main__":
    run_verb(main)
