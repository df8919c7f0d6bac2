"""Evaluate a speaker-embedding model (``task: spk``): verification EER or identification accuracy.

    python -m speechproc.bin.eval_speaker --exp-dir exp/ecapa data/test exp/ecapa/eval_test
    python -m speechproc.bin.eval_speaker --mode identify --exp-dir exp/ecapa data/dev_spk exp/ecapa/eval_dev_spk

``verify`` (default): every pair of utterances of DATA_DIR is a trial (target when both have the same
speaker), scored by the cosine of the embeddings; writes OUT_DIR/{trials,scores,eer.json,result.md}.
``identify``: closed-set identification among the training speakers (DATA_DIR must hold utterances of
training speakers); writes OUT_DIR/{hyp,accuracy.json}. See :mod:`speechproc.score.speaker`.
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.score.speaker import SpeakerEmbedder, identify_data_dir, verify_data_dir
from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eval_speaker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="trained speaker model (exp dir of speechproc.bin.train, task spk)")
    p.add_argument("--mode", choices=["verify", "identify"], default="verify", help="what to evaluate (default verify)")
    p.add_argument("--max-trials", type=int, default=None, help="verify: a fixed random sample of this many pairs")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("data_dir", help="evaluation data dir")
    p.add_argument("out_dir", help="output dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    embedder = SpeakerEmbedder.from_pretrained(args.exp_dir, device=args.device)
    if args.mode == "verify":
        verify_data_dir(embedder, args.data_dir, args.out_dir, args.max_trials)
    else:
        identify_data_dir(embedder, args.data_dir, args.out_dir)
    return 0


if __name__ == "__main__":
    run_verb(main)
