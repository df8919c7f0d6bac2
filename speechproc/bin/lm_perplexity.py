"""Token perplexity of a trained LM on a data dir's ``text`` (or a text file).

    python -m speechproc.bin.lm_perplexity --lm-dir exp/lm data/test [exp/lm/perplexity_test]

Prints ``ppl`` and writes ``OUT_DIR/perplexity.json`` (ppl, nll, tokens, sentences) when OUT_DIR is given.
``<sos/eos>`` counts as a token, as in ESPnet's ``lm_calc_perplexity``.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import atomic_write_text, run_verb, setup_logging

__all__ = ["get_parser", "main"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lm_perplexity", description="Token perplexity of a trained LM.")
    p.add_argument("text", help="data dir (uses its text) or a text file, one sentence per line")
    p.add_argument("out_dir", nargs="?", default=None, help="dir for perplexity.json (optional)")
    p.add_argument("--lm-dir", required=True, help="trained LM experiment dir (hparams.yaml, model.pt)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    from speechproc.exp import load_trained_modules
    from speechproc.models.lm.generate import perplexity
    from speechproc.tasks.lm import read_text_source

    hparams, modules = load_trained_modules(args.lm_dir)
    result = perplexity(modules["model"], hparams["tokenizer"], read_text_source(args.text))
    result.update(text=args.text, lm_dir=args.lm_dir)
    print(f"{args.text}: ppl {result['ppl']:.3f} ({result['sentences']} sentences, {result['tokens']} tokens)")
    if args.out_dir:
        atomic_write_text(Path(args.out_dir) / "perplexity.json", json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_verb(main)
