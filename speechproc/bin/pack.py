"""Pack a finished training run into one zip that loads anywhere (model, config, token list, feature settings).

    python -m speechproc.bin.pack exp/asr_conformer asr_conformer.zip
    speechproc pack exp/asr_conformer asr_conformer.zip

The zip holds what inference needs and nothing else: ``model.pt``, the stored config, copies of the token
list, CMVN statistics and feature settings the run points to, ``manifest.json`` (format, checksums, commit)
and a ``README.md`` card. Load it with ``Speech2Text.from_pretrained("asr_conformer.zip")`` or
``speechproc.exp.load_trained_modules``; the verbs that take ``--exp-dir`` take the zip too.
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exp_dir", help="a finished training run (train.yaml, model.pt)")
    p.add_argument("out_zip", help="the zip to write")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    from speechproc.exp import pack

    out = pack(args.exp_dir, args.out_zip)
    logger.info("packed %s into %s (%.1f MB)", args.exp_dir, out, out.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    run_verb(main)
