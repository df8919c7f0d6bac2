#!/usr/bin/env bash
# adaptation result: the 4 held-out real clips synthesized by Tacotron 2 before and after adaptation, scored against the real audio (conf/benchmark/adapt_tacotron2.yaml)
# outputs: exp/result_adapt.md
python -m speechproc.bin.benchmark_tts conf/benchmark/adapt_tacotron2.yaml --judge-backend "$judge_backend" --eval-opts="$eval_opts" \
  --tts_exp "$tts_exp" --vocoder "$vocoder"
