"""Export a fine-tuned Whisper experiment (any strategy; LoRA is folded into the weights) as a CTranslate2 model
that faster-whisper loads, e.g. int8 for deployment on a CPU.

    python -m speechproc.bin.export_ct2 --exp-dir exp/lora_merged/v1 --quantization int8 exp/lora_merged/v1/ct2_int8
    python -m speechproc.bin.whisper_decode --backend faster-whisper --model exp/lora_merged/v1/ct2_int8 data/test DIR

The model is written as a ``transformers`` checkpoint first (:meth:`WhisperASR.export_hf`), then converted by
CTranslate2's converter (:func:`~speechproc.models.pretrained.whisper.export_ct2_whisper`);
``speechproc_export.json`` records the experiment, the quantization and the input window, so faster-whisper
decodes on the window the model was fine-tuned with.
"""
from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path
from typing import Optional, Sequence

from speechproc.utils import SpeechprocError, run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="fine-tuned Whisper experiment (task: whisper)")
    p.add_argument("--quantization", default="int8",
                   choices=("int8", "int8_float32", "int8_float16", "int16", "float16", "float32"),
                   help="CTranslate2 weight type (default int8)")
    p.add_argument("out_dir", help="CTranslate2 model dir to write")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from speechproc.exp import load_trained_modules
    from speechproc.models.pretrained.whisper import export_ct2_whisper

    args = get_parser().parse_args(argv)
    setup_logging()
    hparams, modules = load_trained_modules(args.exp_dir)
    model = modules.get("model")
    if model is None or not hasattr(model, "export_hf"):
        raise SpeechprocError(f"{args.exp_dir}: not a fine-tuned Whisper experiment (task: whisper); only those "
                              "export to CTranslate2")
    window = model.window_samples / 16000.0
    with tempfile.TemporaryDirectory(prefix="export_ct2_") as tmp:
        hf = model.export_hf(Path(tmp) / "hf")
        export_ct2_whisper(hf, args.out_dir, args.quantization, window, extra={"exp_dir": str(args.exp_dir)})
    logger.info("wrote %s from %s", args.out_dir, args.exp_dir)
    return 0


if __name__ == "__main__":
    run_verb(main)
