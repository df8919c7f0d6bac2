"""Sample text from a trained token LM.

    python -m speechproc.bin.generate --lm-dir exp/lm --prompt "ERASE" --temperature 0.8 --top-k 10 -n 5

Prints one sample per line (the prompt included).
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging

__all__ = ["get_parser", "main"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="generate", description="Sample text from a trained LM.")
    p.add_argument("--lm-dir", required=True, help="trained LM experiment dir")
    p.add_argument("--prompt", default="", help="text to continue (default: start of a sentence)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature > 0 (default 1)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k most likely tokens")
    p.add_argument("--max-tokens", type=int, default=50, help="longest continuation in tokens (default 50)")
    p.add_argument("-n", "--num-samples", type=int, default=1, help="number of samples (default 1)")
    p.add_argument("--seed", type=int, default=None, help="random seed (reproducible samples)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    if args.temperature <= 0:
        raise SpeechprocError(f"--temperature must be > 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise SpeechprocError(f"--top-k must be >= 1, got {args.top_k}")
    from speechproc.exp import load_trained_modules
    from speechproc.models.lm.generate import sample

    hparams, modules = load_trained_modules(args.lm_dir)
    for text in sample(modules["model"], hparams["tokenizer"], args.prompt, args.max_tokens, args.temperature,
                       args.top_k, args.num_samples, args.seed):
        print(text)
    return 0


if __name__ == "__main__":
    run_verb(main)
