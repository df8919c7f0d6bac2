"""Train a model from a HyperPyYAML config (the one shared trainer).

    python -m speechproc.bin.train conf/train_asr.yaml --output_folder exp/asr --train_data dump/train ...

Trainer options: --nproc N (torchrun), --cmd local|slurm, --cmd-conf FILE, --device; every other
``--key value`` overrides the yaml key ``key``. See :mod:`speechproc.train`.
"""
from __future__ import annotations

from typing import Optional, Sequence

from speechproc.train import get_parser, main as _train_main
from speechproc.utils import run_verb

__all__ = ["get_parser", "main"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run training; ``argv`` as on the command line."""
    return _train_main(argv)


if __name__ == "__main__":
    run_verb(main)
