"""Fine-tune a GAN vocoder on an acoustic model's ground-truth-aligned mels (Tacotron 2's authors' recipe for
WaveNet): the mels a FastSpeech 2 predicts on the recordings' durations, or a recognition-synthesis VC decoder on
the recordings' content, frame for frame the recordings'.

    finetune_vocoder --exp-dir exp/fastspeech2 --train data/train --train-durations D/train/durations \\
        --valid data/dev --valid-durations D/dev/durations --init exp/vocos_multi --config conf/train_vocos.yaml \\
        --number_of_epochs 16 --lr 0.0001 exp/vocos_fs2

1. ``predict_mel`` writes the predictions of each data dir into ``EXP_DIR/gta_<data dir name>`` (a mel dump whose
   ``wav.scp`` still names the recordings);
2. the trainer fine-tunes ``--init`` (a vocoder exp dir) on them into OUT_DIR with ``--config``; every other
   ``--key value`` (``--number_of_epochs``, ``--lr``, ``--nproc``, ``--cmd`` ...) reaches it unchanged.

Without ``--valid`` the training predictions also serve for validation.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``finetune_vocoder`` (other ``--key value`` pairs go to the trainer)."""
    p = argparse.ArgumentParser(prog="finetune_vocoder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="acoustic model: a FastSpeech 2 (with durations) or recsynth exp")
    p.add_argument("--train", required=True, help="data dir of the recordings to predict and train on")
    p.add_argument("--train-durations", default=None, help="FastSpeech 2: the durations file of --train")
    p.add_argument("--valid", default=None, help="data dir for validation (default: --train)")
    p.add_argument("--valid-durations", default=None, help="FastSpeech 2: the durations file of --valid")
    p.add_argument("--init", required=True, help="the vocoder exp dir to start from (its model.pt)")
    p.add_argument("--config", required=True, help="the vocoder's training config, e.g. conf/train_vocos.yaml")
    p.add_argument("--nj", type=int, default=1, help="prediction worker processes (default 1)")
    p.usage = "finetune_vocoder --exp-dir EXP --train DATA --init VOC --config YAML [...] [--key value ...] OUT_DIR"
    return p


def predict(exp_dir: str, data_dir: str, durations: Optional[str], nj: int) -> str:
    """``EXP_DIR/gta_<name>``: the ground-truth-aligned predictions of ``data_dir``."""
    from speechproc.bin import predict_mel

    out = str(Path(exp_dir) / f"gta_{Path(data_dir).name}")
    predict_mel.main(["--exp-dir", exp_dir, "--nj", str(nj), *(["--durations", durations] if durations else []),
                      data_dir, out])
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Predict, then fine-tune."""
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = get_parser()
    if "-h" in argv or "--help" in argv:
        parser.print_help()
        return 0
    if not argv or argv[-1].startswith("-"):
        parser.error("the last argument is OUT_DIR, the fine-tuned vocoder's exp dir")
    out_dir = argv[-1]
    args, rest = parser.parse_known_args(argv[:-1])
    args.out_dir = out_dir
    setup_logging()
    init = Path(args.init) / "model.pt"
    if not init.is_file():
        raise SpeechprocError(f"--init {args.init}: no model.pt; train that vocoder first")
    train_gta = predict(args.exp_dir, args.train, args.train_durations, args.nj)
    valid_gta = train_gta
    if args.valid and Path(args.valid).resolve() != Path(args.train).resolve():
        valid_gta = predict(args.exp_dir, args.valid, args.valid_durations, args.nj)
    from speechproc.bin import train

    overrides: List[str] = ["--output_folder", args.out_dir, "--train_data", train_gta, "--valid_data", valid_gta,
                            "--init_model", str(init)]
    return train.main([args.config, *overrides, *rest])


if __name__ == "__main__":
    run_verb(main)
