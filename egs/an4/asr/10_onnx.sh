#!/usr/bin/env bash
# ONNX export of exp/${asr_exp} (normalisation + encoder + CTC head), then PyTorch vs ONNX Runtime on test with $onnx_threads threads (README section onnx)
# outputs: exp/${asr_exp}/onnx/encoder_ctc.onnx exp/${asr_exp}/onnx/benchmark/result.json
python -m speechproc.bin.export_onnx --exp-dir exp/${asr_exp}
python -m speechproc.bin.benchmark_onnx --exp-dir exp/${asr_exp} --data dump/test --threads "$onnx_threads" \
  --out exp/${asr_exp}/onnx/benchmark $([ -f README.md ] && echo "--readme README.md --section onnx")
