#!/usr/bin/env bash
# ONNX export of exp/${asr_exp}${profile_suffix} (normalisation + encoder + CTC head), then PyTorch vs ONNX Runtime on test with $onnx_threads threads (README section onnx)
# outputs: exp/${asr_exp}${profile_suffix}/onnx/encoder_ctc.onnx exp/${asr_exp}${profile_suffix}/onnx/benchmark/result.json
python -m speechproc.bin.benchmark_onnx --export --exp-dir exp/${asr_exp}${profile_suffix} --data dump/test \
  --threads "$onnx_threads" --out exp/${asr_exp}${profile_suffix}/onnx/benchmark \
  $([ -f README.md ] && [ "$profile" = full ] && echo "--readme README.md --section onnx")
