#!/usr/bin/env bash
# FastSpeech 2 synthesis of the held-out sentences, then exp/result_eval.md again with both acoustic models (conf/benchmark/eval.yaml)
# outputs: exp/$fs2_exp/synth_eval_$vocoder/wav.scp exp/result_eval.md
python -m speechproc.bin.benchmark_tts conf/benchmark/eval.yaml --judge-backend "$judge_backend" --eval-opts="$eval_opts" \
  --tts_exp "$tts_exp" --fs2_exp "$fs2_exp" --vocoder "$vocoder"
