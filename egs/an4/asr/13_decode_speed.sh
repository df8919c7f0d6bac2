#!/usr/bin/env bash
# beam search speed: the project's search (cached decoder, loop-free CTC prefix scores) against SpeechBrain's on exp/${speed_exp}${profile_suffix}, test, $decode_config, $onnx_threads threads (README section decode_speed)
# outputs: exp/${speed_exp}${profile_suffix}/decode_speed/result.json
python -m speechproc.bin.benchmark_decode --exp-dir "exp/$speed_exp$profile_suffix" --data dump/test --config "$decode_config" \
  --threads "$onnx_threads" --out "exp/$speed_exp$profile_suffix/decode_speed" \
  $([ -f README.md ] && [ "$profile" = full ] && echo "--readme README.md --section decode_speed")
