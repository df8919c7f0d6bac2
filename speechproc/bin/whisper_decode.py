"""Whisper transcription of a data dir: greedy with the converted ``transformers`` checkpoint or with
faster-whisper on CTranslate2 weights, or greedy / beam search with n-best lists with CTranslate2 on the
model's own input window (``ct2``: a model exported by ``export_ct2`` after fine-tuning on a short window).

    python -m speechproc.bin.whisper_decode --backend hf --model tiny.en data/test exp/whisper/decode_test
    python -m speechproc.bin.whisper_decode --backend faster-whisper --model tiny.en data/test exp/fw/decode_test
    python -m speechproc.bin.whisper_decode --backend ct2 --model exp/m/v1/ct2_int8 --beam-size 5 --nbest 5 \
        data/test exp/m/v1/ct2_int8/decode_test_beam5

writes into OUT_DIR: ``text`` (Kaldi hypotheses, raw Whisper output on one line, C-sorted),
``token_ids`` (``utt id id ...``) and ``decode.json`` (backend, model, features, threads,
audio seconds, decode seconds, real-time factor, command), and with ``--nbest N`` ``nbest``
(``utt rank score tokens text``, best first; score: average log-probability per token). Score with
``python -m speechproc.bin.score_asr --ref data/test/text --hyp OUT_DIR/text --normalize whisper_en OUT_DIR``.
``--model`` is anything ``resolve_whisper`` takes for ``hf`` (``tiny.en``, ``base``, a local HF
checkpoint, a hub id), and ``tiny.en``/``base`` or a CTranslate2 directory for ``faster-whisper``.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

from speechproc.data import DataDir
from speechproc.models.pretrained.whisper import FEATURE_MODES, make_whisper_transcriber, transcribe_data_dir
from speechproc.score.asr import NORMALIZE_MODES
from speechproc.utils import SpeechprocError, atomic_output_dir, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options of ``whisper_decode``."""
    p = argparse.ArgumentParser(prog="whisper_decode", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("hf", "faster-whisper", "ct2"), default="hf",
                   help="decoder: hf (transformers), faster-whisper, ct2 (CTranslate2 on the model's own window, "
                        "greedy or beam search with n-best) (default hf)")
    p.add_argument("--beam-size", type=int, default=1, help="ct2: beam size (1: greedy)")
    p.add_argument("--nbest", type=int, default=0, help="ct2: also write the N best hypotheses to OUT_DIR/nbest")
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.0],
                   help="ct2: Whisper's temperature fallback, e.g. 0 0.2 0.4 0.6 0.8 1.0: a decode that looks "
                        "failed (compression ratio > 2.4 or average log-probability < -1) is sampled again at the "
                        "next temperature (default 0: no fallback)")
    p.add_argument("--no-speech-threshold", type=float, default=0.6,
                   help="ct2: an utterance whose no-speech probability is above this transcribes to an empty string "
                        "(silence, noise; 1.0: never) (default 0.6)")
    p.add_argument("--model", default="tiny.en", help="Whisper model (default tiny.en)")
    p.add_argument("--features", choices=FEATURE_MODES, default="hf",
                   help="log-mel front end of the hf backend: hf (transformers, as in fine-tuning) or "
                        "faster-whisper (identical input to the faster-whisper backend) (default hf)")
    p.add_argument("--window-seconds", type=float, default=30.0,
                   help="input window in seconds (Whisper: 30; shorter is faster, utterances must fit; "
                        "faster-whisper: its chunk_length, by default the window of a model exported by "
                        "export_ct2) (default 30)")
    p.add_argument("--language", default="en", help="language code for multilingual models (default en)")
    p.add_argument("--nthreads", type=int, default=1, help="intra-op CPU threads (default 1)")
    p.add_argument("--limit", type=int, default=None, help="decode only the first N utterances")
    p.add_argument("--score", default=None, choices=NORMALIZE_MODES, metavar="NORMALIZE",
                   help="then score OUT_DIR/text against DATA_DIR/text (score_asr, into OUT_DIR/score_*) with this "
                        f"text normalisation of both sides: {', '.join(NORMALIZE_MODES)}")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    p.add_argument("data_dir", help="Kaldi data dir to transcribe")
    p.add_argument("out_dir", help="decode dir to write")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Decode, write ``text``, ``token_ids`` and ``decode.json``; log the RTF."""
    args = get_parser().parse_args(argv)
    setup_logging(args.verbose)
    data = DataDir.load(args.data_dir)
    utts = data.utts if args.limit is None else data.utts[: args.limit]
    t0 = time.perf_counter()
    transcriber = make_whisper_transcriber(args.backend, args.model, features=args.features,
                                           language=args.language, nthreads=args.nthreads,
                                           window_seconds=args.window_seconds, beam_size=args.beam_size,
                                           temperatures=args.temperatures,
                                           no_speech_threshold=args.no_speech_threshold)
    load_s = time.perf_counter() - t0
    texts, tokens, stats = transcribe_data_dir(transcriber, data, utts)
    nbest_lines: List[str] = []
    if args.nbest:
        if not hasattr(transcriber, "nbest"):
            raise SpeechprocError("--nbest needs --backend ct2")
        for u in utts:
            audio, _ = data.load_audio(u, 16000)
            for rank, (sc, text, n_tok) in enumerate(transcriber.nbest(audio, args.nbest), 1):
                nbest_lines.append(f"{u} {rank} {sc:.4f} {n_tok} {' '.join(text.split())}".rstrip())
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "speechproc.bin.whisper_decode"]
                       + list(sys.argv[1:] if argv is None else argv))
    info = {
        "backend": args.backend,
        "model": args.model,
        "features": args.features if args.backend == "hf" else "faster-whisper",
        "language": args.language,
        "window_seconds": getattr(transcriber, "window_seconds", args.window_seconds if args.backend == "hf" else 30.0),
        "beam_size": args.beam_size,
        "temperatures": args.temperatures,
        "no_speech_threshold": args.no_speech_threshold if args.backend == "ct2" else None,
        "nthreads": args.nthreads,
        "data_dir": str(args.data_dir),
        "n_utts": len(utts),
        "load_s": round(load_s, 3),
        "audio_s": round(stats["audio_s"], 3),
        "decode_s": round(stats["decode_s"], 3),
        "rtf": round(stats["rtf"], 4),
        "cpu": platform.processor() or platform.machine(),
        "command": command,
    }
    with atomic_output_dir(args.out_dir) as tmp:
        keys = sorted(texts, key=lambda s: s.encode("utf-8"))
        (tmp / "text").write_text("".join(f"{u} {texts[u]}".rstrip() + "\n" for u in keys), encoding="utf-8")
        (tmp / "token_ids").write_text("".join(f"{u} {' '.join(map(str, tokens[u]))}".rstrip() + "\n"
                                               for u in keys), encoding="utf-8")
        (tmp / "decode.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if nbest_lines:
            (tmp / "nbest").write_text("\n".join(nbest_lines) + "\n", encoding="utf-8")
    logger.info("%s %s: %d utterances, %.1f s audio, decode %.1f s, RTF %.3f -> %s", args.backend, args.model,
                len(utts), stats["audio_s"], stats["decode_s"], stats["rtf"], Path(args.out_dir) / "text")
    if args.score is not None:
        from speechproc.bin import score_asr

        score_asr.main(["--ref", str(Path(args.data_dir) / "text"), "--hyp", str(Path(args.out_dir) / "text"),
                        "--normalize", args.score, str(args.out_dir)])
    return 0


if __name__ == "__main__":
    run_verb(main)
