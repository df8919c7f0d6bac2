"""Combine data dirs with distinct utterance ids into one (Kaldi ``utils/combine_data.sh``).

    python -m speechproc.bin.combine_data_dir data/train_all data/train_a data/train_b
    python -m speechproc.bin.combine_data_dir --no-text dump/voc_multi dump/train dump/an4 dump/vcc

Feature dumps combine too: ``feats.scp`` and ``utt2num_frames`` are merged like any per-utterance file,
and the extractor settings (``mel.json``, ``fbank.json``, ...) are kept when every input has the same
ones; inputs dumped with different settings are an error.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Dict, Optional, Sequence

from speechproc.data.datadir import DataDir
from speechproc.utils import SpeechprocError, atomic_output_dir, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="output data dir")
    p.add_argument("in_dirs", nargs="+", help="input data dirs")
    p.add_argument("--no-text", action="store_true",
                   help="leave the transcripts out (to combine dirs with and without text for audio-only uses, "
                        "e.g. vocoder training)")
    return p


def feature_settings(in_dirs: Sequence[str]) -> Dict[str, str]:
    """The ``<kind>.json`` extractor settings that all inputs share, name -> text; an error where two inputs
    were dumped with different settings."""
    names = sorted({f.name for d in in_dirs for f in Path(d).glob("*.json")})
    out: Dict[str, str] = {}
    for name in names:
        have = [d for d in in_dirs if (Path(d) / name).is_file()]
        if len(have) < len(in_dirs):
            missing = next(d for d in in_dirs if d not in have)
            logger.warning("combine: %s is missing in %s; the output has none", name, missing)
            continue
        settings = {d: json.loads((Path(d) / name).read_text(encoding="utf-8")) for d in have}
        first = have[0]
        for d in have[1:]:
            if settings[d] != settings[first]:
                diff = sorted(k for k in set(settings[d]) | set(settings[first])
                              if settings[d].get(k) != settings[first].get(k))
                raise SpeechprocError(
                    f"combine: {d}/{name} differs from {first}/{name} in {', '.join(diff)}; fix: dump every "
                    "input with the same feature config before combining")
        out[name] = (Path(first) / name).read_text(encoding="utf-8")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    dirs = [DataDir.load(d) for d in args.in_dirs]
    out = DataDir.combine(dirs, drop_text=args.no_text)
    settings = feature_settings(args.in_dirs)
    out.validate(path_for_messages=args.out_dir)
    with atomic_output_dir(Path(args.out_dir)) as tmp:
        out.write_files(tmp)
        for name, text in settings.items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
    logger.info("wrote %s: %d utterances, %d speakers from %d dirs%s", args.out_dir, len(out), len(out.speakers),
                len(dirs), f" (with {', '.join(settings)})" if settings else "")
    return 0


if __name__ == "__main__":
    run_verb(main)
