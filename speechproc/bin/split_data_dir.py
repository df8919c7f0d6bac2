"""Split a data dir into NJ contiguous parts ``IN/split<NJ>/{1..NJ}`` (Kaldi ``utils/split_data.sh``).

    python -m speechproc.bin.split_data_dir data/train 4
    python -m speechproc.bin.split_data_dir --by-speaker data/train 4

Parts are consecutive in sorted order and as equal as possible; ``--by-speaker`` keeps each
speaker in one part. The split dir is rewritten atomically on every call.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import atomic_output_dir, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--by-speaker", action="store_true", help="keep each speaker in one part")
    p.add_argument("in_dir", help="data dir to split")
    p.add_argument("nj", type=int, help="number of parts")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    in_dir = Path(args.in_dir)
    split_dir = in_dir / f"split{args.nj}"
    data = DataDir.load(in_dir)
    parts = data.split(args.nj, by_speaker=args.by_speaker)
    with atomic_output_dir(split_dir) as tmp:
        for j, part in enumerate(parts, 1):
            part.save(tmp / str(j))
    logger.info("wrote %s: %d parts of %s utterances", split_dir, args.nj, "/".join(str(len(p)) for p in parts))
    return 0


if __name__ == "__main__":
    run_verb(main)
