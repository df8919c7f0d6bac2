"""Export the encoder + CTC head of a trained ASR exp (Conformer/Transformer) to ONNX.

    python -m speechproc.bin.export_onnx --exp-dir exp/asr_conformer            # -> exp/asr_conformer/onnx/
    python -m speechproc.bin.transcribe --exp-dir exp/asr_conformer --onnx exp/asr_conformer/onnx --mode greedy_ctc a.wav

The graph takes fbank features ``(batch, frames, D)`` and frame counts ``(batch,)`` (both axes dynamic) and
returns CTC log-probabilities, the encoder states and their lengths; feature normalisation is inside.
``decode_asr``/``transcribe --onnx DIR`` run it with ONNX Runtime (``greedy_ctc``: all of it; ``beam``: the
PyTorch decoder searches over the ONNX encoder states). ``speechproc.bin.benchmark_onnx`` compares the two
runtimes on a data dir (outputs, transcripts, real-time factor).
"""
from __future__ import annotations

import argparse
import logging
from typing import Optional, Sequence

from speechproc.utils import run_verb, setup_logging

logger = logging.getLogger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp-dir", required=True, help="a finished ASR training run (train.yaml, model.pt) or its zip")
    p.add_argument("--out", default=None, help="the .onnx file to write (default EXP_DIR/onnx/encoder_ctc.onnx)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    from speechproc.decode.onnx import export_asr_onnx

    out = export_asr_onnx(args.exp_dir, args.out, opset=args.opset)
    print(out)
    return 0


if __name__ == "__main__":
    run_verb(main)
