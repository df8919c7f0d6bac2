#!/usr/bin/env bash
# adaptation result of both acoustic models on the 4 held-out real clips, before and after (exp/result_adapt.md; conf/benchmark/adapt.yaml)
# outputs: exp/${fs2_exp}_adapt/synth_lj_eval_$vocoder/wav.scp exp/result_adapt.md
python -m speechproc.bin.benchmark_tts conf/benchmark/adapt.yaml --judge-backend "$judge_backend" --eval-opts="$eval_opts" \
  --tts_exp "$tts_exp" --fs2_exp "$fs2_exp" --vocoder "$vocoder"
