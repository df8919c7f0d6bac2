"""Write the log-mels a recognition-synthesis VC decoder predicts for a data dir, as a mel dump dir.

    predict_mel --exp-dir exp/full/SF1_TF1_recsynth data/TF1_train dump/TF1_train_gta

Each utterance's content and log-F0 (no F0 transform: the speaker's own) go through the decoder; the
dump holds the predicted log-mels as ``feats`` (``feats.scp``, ``utt2num_frames``, ``mel.json`` of the
decoder's training mels) next to the data dir files, so its ``wav.scp`` still names the recordings.
Frame for frame the predictions line up with the audio (the decoder keeps the input's frames), which
is what a vocoder fine-tuned on predicted features needs (Tacotron 2's ground-truth-aligned
fine-tuning of the vocoder): ``train conf/train_vocos.yaml --init_model ... --train_data DUMP_DIR``.
"""
from __future__ import annotations

import argparse
from typing import Any, Optional, Sequence

import numpy as np

from speechproc.utils import SpeechprocError, run_verb, setup_logging


def _predict(wave: np.ndarray, converter: Any) -> Optional[np.ndarray]:
    from speechproc.features.content import ANALYSIS_RATE, compute_content

    feats = compute_content(wave, converter.content, ANALYSIS_RATE)
    return None if feats is None else converter.decode(feats).numpy()


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``predict_mel``."""
    p = argparse.ArgumentParser(prog="predict_mel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a trained recsynth exp dir (task: recsynth), or its pack")
    p.add_argument("--nj", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("data_dir", help="input data dir")
    p.add_argument("dump_dir", help="output mel dump dir")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Dump the decoder's predicted log-mels of DATA_DIR into DUMP_DIR."""
    from speechproc.features.content import ANALYSIS_RATE
    from speechproc.features.dump import dump_features
    from speechproc.vc.convert import VoiceConverter
    from speechproc.vc.recsynth import RecSynthConverter

    args = get_parser().parse_args(argv)
    setup_logging()
    converter = VoiceConverter.from_pretrained(args.exp_dir, {"vocoder": "griffin_lim"})
    if not isinstance(converter, RecSynthConverter):
        raise SpeechprocError(f"{args.exp_dir}: not a recognition-synthesis VC exp (task: recsynth); predict_mel "
                              f"needs a decoder that keeps the input's frames")
    dump_features(args.data_dir, args.dump_dir, "mel", _predict, converter, converter.mel.to_dict(),
                  sample_rate=ANALYSIS_RATE, nj=args.nj)
    return 0


if __name__ == "__main__":
    run_verb(main)
