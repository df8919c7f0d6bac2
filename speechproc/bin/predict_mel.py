"""Write the log-mels a recognition-synthesis VC decoder (or a FastSpeech 2 on ground-truth durations) predicts
for a data dir, as a mel dump dir.

    predict_mel --exp-dir exp/full/SF1_TF1_recsynth data/TF1_train dump/TF1_train_gta
    predict_mel --exp-dir exp/fastspeech2 --durations exp/tacotron2/durations/train/durations dump/train dump/train_gta

FastSpeech 2: each utterance's text, its durations (``extract_durations``, the file training used), its F0 when the
model was trained on pitch targets (``pitch_stats``), and the
energy of its own mels drive the teacher-forced pass, so the predicted frames line up with the recording.

Each utterance's content and log-F0 (no F0 transform: the speaker's own) go through the decoder; the
dump holds the predicted log-mels as ``feats`` (``feats.scp``, ``utt2num_frames``, ``mel.json`` of the
decoder's training mels) next to the data dir files, so its ``wav.scp`` still names the recordings.
Frame for frame the predictions line up with the audio (the decoder keeps the input's frames), which
is what a vocoder fine-tuned on predicted features needs (Tacotron 2's ground-truth-aligned
fine-tuning of the vocoder): ``train conf/train_vocos.yaml --init_model ... --train_data DUMP_DIR``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from speechproc.utils import SpeechprocError, run_verb, setup_logging


def _predict(wave: np.ndarray, converter: Any) -> Optional[np.ndarray]:
    from speechproc.features.content import ANALYSIS_RATE, compute_content

    feats = compute_content(wave, converter.content, ANALYSIS_RATE)
    return None if feats is None else converter.decode(feats).numpy()


class _GroundTruthAligned:
    """FastSpeech 2 of a TTS exp on given durations: ``(wave, utt) -> predicted log-mel (frames, n_mels)``."""

    def __init__(self, exp_dir: str, data_dir: str, durations: str) -> None:
        from speechproc.data.datadir import DataDir
        from speechproc.exp import load_trained_modules
        from speechproc.features.mel import MelConfig, load_mel_config
        from speechproc.models.tts.fastspeech2 import FastSpeech2
        from speechproc.tasks.tts import read_durations

        hparams, modules = load_trained_modules(exp_dir)
        if not isinstance(modules.get("model"), FastSpeech2):
            raise SpeechprocError(f"{exp_dir}: predict_mel --durations needs a FastSpeech 2 exp (task: tts), this one "
                                  f"holds {type(modules.get('model')).__name__}")
        self.model, self.normalize, self.tokenizer = modules["model"], modules["normalize"], hparams["tokenizer"]
        train = hparams.get("train_data")
        self.mel = load_mel_config(train) if train and (Path(train) / "mel.json").is_file() else MelConfig()
        data = DataDir.load(data_dir)
        if data.text is None:
            raise SpeechprocError(f"{data_dir}: no text file; ground-truth-aligned prediction needs the transcripts")
        self.text = data.text
        self.durations = read_durations(durations)
        self.where = durations
        self.pitch_stats = None
        if hparams.get("pitch_stats"):  # trained on F0 targets: teacher-force the recording's pitch as well
            from speechproc.features.pitch import load_pitch_stats

            self.pitch_stats = load_pitch_stats(hparams["pitch_stats"])


def _predict_gta(wave: np.ndarray, gta: "_GroundTruthAligned", utt: str) -> Optional[np.ndarray]:
    import torch

    from speechproc.features.mel import compute_mel
    from speechproc.text.tokenizer import encode_text

    if utt not in gta.durations:
        raise SpeechprocError(f"{gta.where}: no durations for utterance {utt}; run extract_durations on this data")
    mel = compute_mel(wave, gta.mel)
    tokens = encode_text(gta.tokenizer, gta.text[utt])[None]
    n = torch.tensor([mel.shape[0]])
    extra = {}
    if gta.pitch_stats is not None:
        from speechproc.features.pitch import frame_f0, normalize_pitch

        f0 = frame_f0(wave, gta.mel.sample_rate, gta.mel.hop_length, mel.shape[0])
        extra["pitch"] = torch.from_numpy(normalize_pitch(f0, *gta.pitch_stats))[None]
    with torch.no_grad():
        x, _ = gta.normalize(mel[None], n)
        try:
            out = gta.model(tokens, torch.tensor([tokens.shape[1]]), x, n,
                            durations=torch.tensor(gta.durations[utt])[None], **extra)
        except ValueError as e:  # durations that do not fit the tokens or the frames
            raise SpeechprocError(f"{gta.where}, utterance {utt}: {e}") from None
        pred = out["mel_after"][0] * gta.normalize.std + gta.normalize.mean
    return pred.numpy()


_predict_gta.per_utterance = True


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``predict_mel``."""
    p = argparse.ArgumentParser(prog="predict_mel", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a trained recsynth exp dir (task: recsynth), or its pack; with "
                   "--durations a FastSpeech 2 exp")
    p.add_argument("--durations", default=None, help="FastSpeech 2: the durations file of DATA_DIR (extract_durations)")
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
    if args.durations:
        gta = _GroundTruthAligned(args.exp_dir, args.data_dir, args.durations)
        dump_features(args.data_dir, args.dump_dir, "mel", _predict_gta, gta, gta.mel.to_dict(),
                      sample_rate=gta.mel.sample_rate, nj=args.nj)
        return 0
    converter = VoiceConverter.from_pretrained(args.exp_dir, {"vocoder": "griffin_lim"})
    if not isinstance(converter, RecSynthConverter):
        raise SpeechprocError(f"{args.exp_dir}: not a recognition-synthesis VC exp (task: recsynth); predict_mel "
                              f"needs a decoder that keeps the input's frames")
    dump_features(args.data_dir, args.dump_dir, "mel", _predict, converter, converter.mel.to_dict(),
                  sample_rate=ANALYSIS_RATE, nj=args.nj)
    return 0


if __name__ == "__main__":
    run_verb(main)
