"""Synthesize speech with a trained TTS experiment into a synthesis dir.

    synthesize --exp-dir exp/tacotron2 --data data/eval exp/tacotron2/synth_eval_gl
    synthesize --exp-dir exp/tacotron2 --text sentences.txt exp/tacotron2/synth_text
    synthesize --engine espeak-ng --data data/eval exp/baselines/synth_eval_espeak-ng
    synthesize --copy-synthesis --data data/eval exp/copy_synthesis/synth_eval_griffin_lim

``--data`` takes the texts (and ids, speakers) of a data dir; ``--text`` a file of
``<id> <sentence>`` lines. The output is a data dir of the synthesized audio with attention and
mel PNGs and ``synth.json`` (real-time factor); see :mod:`speechproc.decode.tts`. ``--engine``
synthesizes with a reference system instead of a trained model: the ``hibari`` teacher,
``espeak-ng`` or ``flite``; ``--copy-synthesis`` passes the natural audio of ``--data`` through
the mel front end and the vocoder (the vocoder's upper bound).
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from typing import Optional, Sequence

import torch

from speechproc.decode.tts import ENGINES, CopySynthesis, Text2Speech, make_engine, synthesize_dir
from speechproc.decode.vocoder import VOCODERS
from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``synthesize``."""
    p = argparse.ArgumentParser(prog="synthesize", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--exp-dir", help="training run (hparams.yaml, model.pt)")
    model.add_argument("--engine", choices=ENGINES, help="a reference synthesizer instead of a trained model")
    model.add_argument("--copy-synthesis", action="store_true", help="vocode the mel of the natural audio of --data")
    p.add_argument("--mel-config", default=None, help="mel settings of --copy-synthesis (default: 22.05 kHz, 80 bins)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="data dir whose text is synthesized")
    src.add_argument("--text", help="file of '<id> <sentence>' lines")
    p.add_argument("--vocoder", choices=VOCODERS, default="auto",
                   help="vocoder (default auto: the GAN vocoder of --vocoder-checkpoint when given, else Griffin-Lim)")
    p.add_argument("--vocoder-checkpoint", default=None,
                   help="GAN vocoder: its experiment dir (task vocoder, e.g. exp/vocos) or a HiFi-GAN checkpoint file")
    p.add_argument("--griffin-lim-iters", type=int, default=32, help="Griffin-Lim iterations (default 32)")
    p.add_argument("--griffin-lim-power", type=float, default=1.0, help="magnitude exponent before Griffin-Lim")
    p.add_argument("--max-len-ratio", type=float, default=10.0, help="at most this many frames per token")
    p.add_argument("--min-len-ratio", type=float, default=0.0, help="at least this many frames per token")
    p.add_argument("--limit", type=int, default=None, help="synthesize only the first N utterances")
    p.add_argument("--plots", type=int, default=4, help="attention/mel PNGs for the first N utterances")
    p.add_argument("--nthreads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("out_dir", help="synthesis dir to write")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Load the model, synthesize every text, write the synthesis dir."""
    args = get_parser().parse_args(argv)
    setup_logging()
    torch.set_num_threads(args.nthreads)
    options = {"checkpoint": args.vocoder_checkpoint, "n_iter": args.griffin_lim_iters,
               "power": args.griffin_lim_power}
    spk = None
    if args.data:
        from speechproc.data import DataDir

        data = DataDir.load(args.data)
        if data.text is None and not args.copy_synthesis:
            raise SpeechprocError(f"{args.data}: no text file to synthesize")
        # copy synthesis needs only the audio: a data dir without text gives a synthesis dir without text
        texts = dict(data.text) if data.text is not None else {u: "" for u in data.utts}
        spk = dict(data.utt2spk)
    else:
        from speechproc.score.asr import read_kaldi_text

        texts = read_kaldi_text(args.text)
    inputs = None
    if args.engine:
        tts = make_engine(args.engine)
    elif args.copy_synthesis:
        from speechproc.decode.vocoder import make_vocoder
        from speechproc.features.mel import load_mel_config

        if not args.data:
            raise SpeechprocError("--copy-synthesis needs --data (the natural audio)")
        tts = CopySynthesis(data, make_vocoder(args.vocoder, load_mel_config(args.mel_config), **options))
    else:
        tts = Text2Speech.from_pretrained(args.exp_dir, vocoder=args.vocoder, vocoder_options=options,
                                          max_len_ratio=args.max_len_ratio, min_len_ratio=args.min_len_ratio)
    utts = sorted(texts, key=lambda s: s.encode("utf-8"))
    if args.limit is not None:
        utts = utts[: args.limit]
        texts = {u: texts[u] for u in utts}
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.synthesize"]
                       + list(sys.argv[1:] if argv is None else argv))
    info = {"exp_dir": args.exp_dir, "engine": args.engine or ("copy_synthesis" if args.copy_synthesis else None),
            "source": args.data or args.text, "command": command,
            "max_len_ratio": args.max_len_ratio, "min_len_ratio": args.min_len_ratio}
    if args.copy_synthesis:
        inputs = {u: u for u in texts}
    synthesize_dir(tts, texts, args.out_dir, spk=spk, plots=args.plots, info=info, inputs=inputs)
    return 0


if __name__ == "__main__":
    run_verb(main)
