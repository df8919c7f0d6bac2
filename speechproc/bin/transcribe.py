"""Transcribe audio files or a data dir with a trained ASR experiment.

    python -m speechproc.bin.transcribe --exp-dir exp/asr_conformer a.wav b.flac
    python -m speechproc.bin.transcribe --exp-dir exp/asr_conformer --data data/test > hyp.txt

Prints ``<file or utterance id> <text>`` per input. Decode settings come from ``--config`` (a decode yaml)
and the options below; ``--lm-dir`` adds LM shallow fusion.

Streaming (a model trained with dynamic chunks, e.g. egs/an4/asr ``conf/train_asr_streaming.yaml``)::

    python -m speechproc.bin.transcribe --exp-dir exp/asr_streaming --stream --chunk-ms 640 a.wav
    arecord -q -f S16_LE -r 16000 -c 1 -t raw | python -m speechproc.bin.transcribe --exp-dir exp/asr_streaming --stream -

reads the audio chunk by chunk (a file at real-time pace with ``--realtime``; ``-``: raw 16-bit little-endian
PCM on stdin at ``--rate`` Hz, ``--channels`` channels averaged to mono) and prints ``partial <text>`` each
time the best hypothesis changes and ``final <text>`` at each end of speech (CTC-blank endpointing, see
:mod:`speechproc.decode.streaming`) and at the end of the input. Files at another rate are resampled to the
model's and stereo files averaged; raw PCM on stdin must be at the model's rate (an error says so).
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
    s = p.add_argument_group("streaming")
    s.add_argument("--stream", action="store_true", help="decode chunk by chunk, printing partial and final results")
    s.add_argument("--chunk-ms", type=float, default=640.0, help="chunk of the streaming encoder (multiple of 40 ms)")
    s.add_argument("--realtime", action="store_true", help="feed files at real-time pace (as a microphone would)")
    s.add_argument("--rate", type=int, default=None, help="stdin (-): sample rate of the raw PCM (default: the "
                   "model's)")
    s.add_argument("--channels", type=int, default=1, help="stdin (-): interleaved channels, averaged to mono")
    s.add_argument("--rescore", action=argparse.BooleanOptionalAction, default=True,
                   help="rescore the CTC prefix beam's n-best with the attention decoder at each end of speech")
    s.add_argument("--endpoint-seconds", type=float, default=0.8,
                   help="trailing CTC blank after speech that ends a segment (0: only the end of the input)")
    return p


def _raw_pieces(stream, rate: int, channels: int, piece_seconds: float = 0.04):
    """Float mono pieces of raw 16-bit little-endian PCM from a binary stream."""
    import numpy as np

    if channels < 1:
        raise SpeechprocError(f"--channels must be >= 1, got {channels}")
    frame = 2 * channels
    size = max(1, int(rate * piece_seconds)) * frame
    rest = b""
    while True:
        data = stream.read(size)
        if not data:
            break
        data = rest + data
        whole = len(data) - len(data) % frame
        rest = data[whole:]
        if whole:
            x = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0
            yield x.reshape(-1, channels).mean(axis=1)
    if rest:
        raise SpeechprocError(f"stdin ended mid-sample ({len(rest)} bytes after the last whole {frame}-byte frame): "
                              f"raw input must be 16-bit little-endian PCM with --channels {channels}")


def _stream(args) -> int:
    import sys
    import time

    from speechproc.data.audio import read_audio
    from speechproc.decode.streaming import Speech2TextStreaming

    s2t = Speech2TextStreaming.from_pretrained(args.exp_dir, chunk_ms=args.chunk_ms, device=args.device,
                                               endpoint_seconds=args.endpoint_seconds, rescore=args.rescore,
                                               **({"beam_size": args.beam_size} if args.beam_size else {}),
                                               **({"ctc_weight": args.ctc_weight} if args.ctc_weight is not None else {}))
    rate = s2t.fbank_config.sample_rate

    def show(name: str, results) -> None:
        for r in results:
            print(f"{name} {'final' if r.final else 'partial'} {r.text}", flush=True)

    for path in args.audio:
        if path == "-":
            src_rate = args.rate or rate
            got = False
            for piece in _raw_pieces(sys.stdin.buffer, src_rate, args.channels):
                got = True
                show("-", s2t.accept_waveform(piece, src_rate))
            if not got:
                raise SpeechprocError("no audio on stdin; fix: pipe raw 16-bit little-endian PCM into --stream -")
            show("-", s2t.finish())
            continue
        wave, sr = read_audio(path, sample_rate=rate)  # stereo is averaged, another rate resampled
        if len(wave) == 0:
            raise SpeechprocError(f"{path}: the file holds no samples")
        step = max(1, int(sr * 0.04))
        t0 = time.monotonic()
        for i in range(0, len(wave), step):
            if args.realtime:
                time.sleep(max(0.0, t0 + (i + step) / sr - time.monotonic()))
            show(path, s2t.accept_waveform(wave[i: i + step], sr))
        show(path, s2t.finish())
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    setup_logging()
    args = get_parser().parse_args(argv)
    if not args.audio and not args.data:
        raise SpeechprocError("nothing to transcribe: give audio files or --data DIR")
    if args.stream:
        if args.data:
            raise SpeechprocError("--stream reads audio files or - (stdin), not --data; decode a data dir with "
                                  "benchmark_streaming or decode_asr")
        return _stream(args)
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
