"""Word alignment of a data dir with a trained CTC/attention experiment, as a Kaldi CTM file.

    python -m speechproc.bin.align_words --exp-dir ../asr/exp/asr_conformer --data data/test exp/align_test
    python -m speechproc.bin.align_words --exp-dir exp/finetune_lora --fit-ctc-on data/train_nodev --data data/test exp/align_test

Writes ``OUT_DIR/ctm`` (``utt 1 start duration word score``: the encoder frames of each word's tokens on the
Viterbi CTC path, in seconds, and the mean token log-probability) and ``OUT_DIR/align.json`` (the model,
the frame shift, counts). The spans are where CTC emits each word, which is inside or just after its sound;
``cut_words`` turns them into clips.

A fine-tuned Whisper experiment has no CTC head: ``--fit-ctc-on DATA`` fits a character CTC head on its frozen
encoder with the transcripts of DATA (:class:`speechproc.decode.align.WhisperCTCAligner`; written to
``OUT_DIR/ctc_head.pt``, its training loss and greedy CER to ``align.json``), ``--ctc-head FILE`` reuses one.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import SpeechprocError, atomic_output_dir, run_verb, setup_logging

__all__ = ["get_parser", "main"]

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="align_words", description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", help="output dir for ctm and align.json")
    p.add_argument("--exp-dir", required=True, help="trained CTC/attention ASR experiment (a CTC head on fbank input)")
    p.add_argument("--data", required=True, help="data dir with wav.scp and text")
    p.add_argument("--max-utts", type=int, default=None, help="align only the first N utterances")
    p.add_argument("--fit-ctc-on", default=None, help="Whisper experiments: data dir whose transcripts fit a CTC head")
    p.add_argument("--ctc-head", default=None, help="Whisper experiments: a CTC head written by an earlier run")
    p.add_argument("--ctc-epochs", type=int, default=40, help="epochs of --fit-ctc-on (default 40)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    from tqdm import tqdm

    from speechproc.data.datadir import DataDir
    from speechproc.decode.align import CTCAligner, WhisperCTCAligner
    from speechproc.exp import exp_settings

    data = DataDir.load(args.data)
    if data.text is None:
        raise SpeechprocError(f"{args.data}: no text file; alignment needs the transcripts")
    fit = None
    if exp_settings(args.exp_dir).get("task") == "whisper":
        aligner = WhisperCTCAligner.from_pretrained(args.exp_dir)
        if args.ctc_head:
            aligner.load(args.ctc_head)
        elif args.fit_ctc_on:
            fit = aligner.fit(DataDir.load(args.fit_ctc_on), epochs=args.ctc_epochs)
            logger.info("CTC head fitted on %s: loss %.3f per frame, greedy CER %.2f %%", args.fit_ctc_on,
                        fit["ctc_loss_per_frame"], fit["greedy_cer"])
        else:
            raise SpeechprocError(f"{args.exp_dir} is a Whisper experiment without a CTC head: add --fit-ctc-on "
                                  f"<training data dir> (or --ctc-head FILE from an earlier alignment)")
    else:
        if args.fit_ctc_on or args.ctc_head:
            logger.info("%s has its own CTC head: --fit-ctc-on / --ctc-head (for Whisper experiments) are not used",
                        args.exp_dir)
        aligner = CTCAligner.from_pretrained(args.exp_dir)
    utts = data.utts[: args.max_utts] if args.max_utts else data.utts
    lines, shift = [], None
    for utt in tqdm(utts, desc="align_words", unit="utt"):
        wave, _ = data.load_audio(utt, sample_rate=aligner.sample_rate)
        try:
            spans, shift = aligner.align(wave, data.text[utt])
        except SpeechprocError as e:
            raise SpeechprocError(f"{args.data}: utterance {utt}: {e}") from None
        for s in spans:
            lines.append(f"{utt} 1 {s.start * shift:.3f} {(s.end - s.start) * shift:.3f} {s.word} {s.score:.3f}")
    with atomic_output_dir(Path(args.out_dir)) as tmp:
        (tmp / "ctm").write_text("\n".join(lines) + "\n", encoding="utf-8")
        info = {"exp_dir": str(args.exp_dir), "data": str(args.data), "utterances": len(utts), "words": len(lines),
                "frame_shift_seconds": shift}
        if isinstance(aligner, WhisperCTCAligner):
            aligner.save(tmp / "ctc_head.pt")
            info["ctc_head"] = {"fitted_on": args.fit_ctc_on, "loaded_from": args.ctc_head, "epochs": args.ctc_epochs,
                                **(fit or {})}
        (tmp / "align.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    logger.info("wrote %s/ctm: %d words of %d utterances", args.out_dir, len(lines), len(utts))
    return 0


if __name__ == "__main__":
    run_verb(main)
