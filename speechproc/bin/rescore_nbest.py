"""Rescore an n-best list (``whisper_decode --backend ct2 --beam-size 5 --nbest 5``) with a trained token LM.

    python -m speechproc.bin.rescore_nbest --lm-dir exp/lm_whisper_en --normalize whisper_en \\
        --tune-nbest exp/zeroshot_ct2_beam5/decode_train_dev/nbest --tune-ref data/train_dev/text \\
        exp/zeroshot_ct2_beam5/decode_test/nbest exp/zeroshot_ct2_beam5/decode_test_rescore

Each hypothesis scores ``score * tokens + lm_weight * log P_LM + length_bonus * words``
(:mod:`speechproc.decode.rescore`). With ``--tune-nbest``/``--tune-ref`` the weights are the pair of
``--lm-weights`` x ``--length-bonuses`` with the lowest WER on that development list; otherwise the first of
each. Writes ``OUT_DIR/text`` (the chosen hypotheses, as the first pass wrote them) and ``rescore.json``
(weights, the development grid, the command).
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from typing import Optional, Sequence

from speechproc.utils import atomic_output_dir, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("nbest", help="n-best list to rescore (utt rank score tokens text)")
    p.add_argument("out_dir", help="decode dir to write (text, rescore.json)")
    p.add_argument("--lm-dir", required=True, help="trained LM exp dir")
    p.add_argument("--normalize", default="whisper_en", help="normalisation of hypotheses before the LM and of "
                   "references and hypotheses in tuning (default whisper_en; the LM's training text had it)")
    p.add_argument("--lm-weights", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0],
                   help="LM weights tried in tuning (default 0 0.1 0.2 0.3 0.5 0.7 1.0)")
    p.add_argument("--length-bonuses", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0],
                   help="per-word bonuses tried in tuning (default 0 0.5 1 2)")
    p.add_argument("--tune-nbest", default=None, help="development n-best list for choosing the weights")
    p.add_argument("--tune-ref", default=None, help="its references (Kaldi text)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    from speechproc.decode.rescore import LMScorer, read_nbest, rescore, tune
    from speechproc.score.asr import read_kaldi_text
    from speechproc.utils import SpeechprocError

    if (args.tune_nbest is None) != (args.tune_ref is None):
        raise SpeechprocError("--tune-nbest and --tune-ref go together (a development n-best list and its references)")
    lm = LMScorer(args.lm_dir, args.normalize)
    nbest = read_nbest(args.nbest)
    grid = []
    w, b = args.lm_weights[0], args.length_bonuses[0]
    if args.tune_nbest:
        w, b, grid = tune(read_nbest(args.tune_nbest), read_kaldi_text(args.tune_ref), lm, args.lm_weights,
                          args.length_bonuses, args.normalize)
        logger.info("tuned on %s: lm_weight %g, length_bonus %g (WER %.2f %%)", args.tune_nbest, w, b,
                    min(g["wer"] for g in grid))
    hyps = rescore(nbest, lm, w, b)
    changed = sum(hyps[u] != nbest[u][0].text for u in nbest)
    info = {"nbest": args.nbest, "lm_dir": args.lm_dir, "normalize": args.normalize, "lm_weight": w,
            "length_bonus": b, "tune_nbest": args.tune_nbest, "tune_ref": args.tune_ref, "grid": grid,
            "utterances": len(hyps), "changed_from_first_pass": changed,
            "command": " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.rescore_nbest",
                                                         *(sys.argv[1:] if argv is None else argv)])}
    with atomic_output_dir(args.out_dir) as tmp:
        keys = sorted(hyps, key=lambda s: s.encode("utf-8"))
        (tmp / "text").write_text("".join(f"{u} {hyps[u]}".rstrip() + "\n" for u in keys), encoding="utf-8")
        (tmp / "rescore.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    logger.info("%d utterances, %d changed from the first pass's 1-best -> %s/text", len(hyps), changed, args.out_dir)
    return 0


if __name__ == "__main__":
    run_verb(main)
