"""Transcribe audio files or a data dir with a trained ASR experiment.

    python -m speechproc.bin.transcribe --exp-dir exp/asr_conformer a.wav b.flac
    python -m speechproc.bin.transcribe --exp-dir exp/asr_conformer --data data/test > hyp.txt

Prints ``<file or utterance id> <text>`` per input. Decode settings come from ``--config`` (a decode yaml)
and the options below; ``--lm-dir`` adds LM shallow fusion.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging

__all__ = ["get_parser", "main"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="transcribe", description="Transcribe audio files or a data dir.")
    p.add_argument("audio", nargs="*", help="audio files (wav/flac/sph) or wav.scp specs")
    p.add_argument("--exp-dir", required=True, help="trained ASR experiment dir")
    p.add_argument("--data", default=None, help="data dir to transcribe instead of files")
    p.add_argument("--config", default=None, help="decode yaml")
    p.add_argument("--lm-dir", default=None, help="LM experiment dir for shallow fusion")
    p.add_argument("--beam-size", type=int, default=None)
    p.add_argument("--ctc-weight", type=float, default=None)
    p.add_argument("--lm-weight", type=float, default=None)
    p.add_argument("--mode", choices=["beam", "greedy_ctc", "greedy"], default=None,
                   help="beam / greedy_ctc (CTC/attention models), greedy (Whisper)")
    p.add_argument("--split-pause-seconds", type=float, default=None,
                   help="long audio: also cut at every pause at least this long (a VAD; 0: only where the "
                        "window forces a cut)")
    p.add_argument("--pause-pad-seconds", type=float, default=None,
                   help="with --split-pause-seconds: keep this much of each pause around the speech and drop the "
                        "rest (default: cut in the middle of the pause)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--onnx", default=None, help="the encoder exported by export_onnx (EXP_DIR/onnx), run with ONNX "
                   "Runtime")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    if not args.audio and not args.data:
        raise SpeechprocError("nothing to transcribe: give audio files or --data DIR")
    from speechproc.decode.asr import Speech2Text

    s2t = Speech2Text.from_pretrained(args.exp_dir, decode_config=args.config, lm_dir=args.lm_dir,
                                      device=args.device, beam_size=args.beam_size, ctc_weight=args.ctc_weight,
                                      lm_weight=args.lm_weight, mode=args.mode,
                                      split_pause_seconds=args.split_pause_seconds,
                                      pause_pad_seconds=args.pause_pad_seconds, onnx=args.onnx)
    if args.data:
        from speechproc.data.dataset import load_data_dir

        data = load_data_dir(args.data)
        for utt in data.utts:
            wave, sr = data.load_audio(utt, sample_rate=s2t.fbank_config.sample_rate)
            print(f"{utt} {s2t(wave, sr)}", flush=True)
    for path in args.audio:
        print(f"{path} {s2t(path)}", flush=True)
    return 0


if __name__ == "__main__":
    run_verb(main)
