#!/usr/bin/env bash
# teacher-trained vs LJSpeech-fine-tuned GAN vocoder vs Griffin-Lim, copy synthesis of the 7 real clips held out of stage 19 (exp/result_vocoder_lj_heldout.md, README; conf/benchmark/vocoder_lj_heldout.yaml)
# outputs: exp/result_vocoder_lj_heldout.md
python -m speechproc.bin.benchmark_tts conf/benchmark/vocoder_lj_heldout.yaml ${readme:+--readme "$readme"} --judge-backend "$judge_backend" \
  --eval-opts="$eval_opts" --voc_exp "$voc_exp"
