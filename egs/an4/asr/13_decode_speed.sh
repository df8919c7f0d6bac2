#!/usr/bin/env bash
# beam search speed: the project's search (cached decoder and LM, loop-free CTC prefix scores) against SpeechBrain's on exp/${speed_exp}${profile_suffix}, test, without and with the LM, $onnx_threads threads (README sections decode_speed, decode_speed_lm)
# outputs: exp/${speed_exp}${profile_suffix}/decode_speed/result.json exp/${speed_exp}${profile_suffix}/decode_speed_lm/result.json
python -m speechproc.bin.benchmark_decode --exp-dir "exp/$speed_exp$profile_suffix" --data dump/test --config "$decode_config" \
  --threads "$onnx_threads" --out "exp/$speed_exp$profile_suffix/decode_speed" \
  $([ -f README.md ] && [ "$profile" = full ] && echo "--readme README.md --section decode_speed")
python -m speechproc.bin.benchmark_decode --exp-dir "exp/$speed_exp$profile_suffix" --data dump/test --config "$lm_decode_config" \
  --lm-dir "exp/lm$profile_suffix" --threads "$onnx_threads" --out "exp/$speed_exp$profile_suffix/decode_speed_lm" \
  $([ -f README.md ] && [ "$profile" = full ] && echo "--readme README.md --section decode_speed_lm")
