"""A data dir of clips without speech (digital silence, noise, mains hum) to check that a recogniser returns nothing.

    python -m speechproc.bin.make_nonspeech_data data/nonspeech --seconds 0.5 1 2 3 5 --levels -90 -60 -45

One clip per kind (:data:`speechproc.data.audio.NONSPEECH_KINDS`; digital silence once), duration and level
(RMS, dB re full scale), 16-bit at ``--sample-rate``: ``wav/*.wav``, ``wav.scp``, ``utt2spk`` (speaker
``nonspeech``), ``utt2dur``. There is no ``text``: every clip's reference is the empty string, and
``make_results --short-commands-table ... nonspeech=SET`` counts the clips a system wrote words for.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import atomic_output_dir, run_verb, setup_logging

__all__ = ["get_parser", "main"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make_nonspeech_data", description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", help="data dir to write")
    p.add_argument("--seconds", type=float, nargs="+", default=[0.5, 1.0, 2.0, 3.0, 5.0], help="clip durations")
    p.add_argument("--levels", type=float, nargs="+", default=[-90.0, -60.0, -45.0],
                   help="RMS levels of the noise kinds in dBFS")
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    import numpy as np
    import soundfile as sf

    from speechproc.data.audio import NONSPEECH_KINDS, nonspeech_clip
    from speechproc.data.datadir import DataDir

    rng = np.random.default_rng(args.seed)
    final = Path(args.out_dir).resolve()
    rows = []
    with atomic_output_dir(Path(args.out_dir)) as tmp:
        (tmp / "wav").mkdir()
        for kind in NONSPEECH_KINDS:
            for level in ([None] if kind == "zeros" else args.levels):
                for sec in args.seconds:
                    name = f"{kind}" + ("" if level is None else f"_{int(round(-level))}dB") + f"_{sec:g}s"
                    uid = f"nonspeech-{name.replace('.', 'p')}"
                    x = nonspeech_clip(sec, args.sample_rate, kind, -60.0 if level is None else level, rng)
                    sf.write(str(tmp / "wav" / f"{uid}.wav"), x, args.sample_rate, subtype="PCM_16")
                    rows.append((uid, sec))
        DataDir(wav_scp={u: str(final / "wav" / f"{u}.wav") for u, _ in rows}, utt2spk={u: "nonspeech" for u, _ in rows},
                utt2dur={u: s for u, s in rows}).write_files(tmp)
    DataDir.load(args.out_dir)
    logger.info("wrote %s: %d clips without speech", args.out_dir, len(rows))
    return 0


if __name__ == "__main__":
    run_verb(main)
