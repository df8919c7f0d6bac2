"""Write a speed-perturbed WAV to stdout (the pipe used in speed-perturbed ``wav.scp`` entries).

    python -m speechproc.bin.wav_speed --factor 0.9 in.wav |
    some-command | python -m speechproc.bin.wav_speed --factor 1.1 - |

Like sox ``speed``: tempo and pitch change together, the sample rate stays; output is 16-bit PCM
mono with ``ceil(T / factor)`` samples.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from speechproc.data.audio import read_audio_file_or_stdin, speed_perturb_waveform, write_wav_bytes
from speechproc.utils import run_verb, setup_logging


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--factor", type=float, required=True, help="speed factor (0.9 = slower and longer)")
    p.add_argument("input", help="audio file, or - for WAV on stdin")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    wave, sr = read_audio_file_or_stdin(args.input)
    out = speed_perturb_waveform(wave, args.factor)
    sys.stdout.buffer.write(write_wav_bytes(out.clip(-1.0, 1.0), sr))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    run_verb(main)
