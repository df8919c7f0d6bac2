#!/usr/bin/env bash
# ONNX export of exp/asr (normalisation + encoder + CTC head), then PyTorch vs ONNX Runtime on test with $onnx_threads threads (README section onnx)
# outputs: exp/asr/onnx/encoder_ctc.onnx exp/asr/onnx/benchmark/result.json
python -m speechproc.bin.benchmark_onnx --export --exp-dir exp/asr --data dump/test --threads "$onnx_threads" \
  --out exp/asr/onnx/benchmark $([ -f README.md ] && echo "--readme README.md --section onnx")
