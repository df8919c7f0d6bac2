#!/usr/bin/env bash
# GAN vocoder ($voc_exp) against Griffin-Lim, copy synthesis of the held-out teacher sentences and the 32 real LJSpeech clips (exp/result_vocoder_{teacher,lj}.md, README; conf/benchmark/vocoder.yaml)
# outputs: exp/result_vocoder_teacher.md exp/result_vocoder_lj.md
python -m speechproc.bin.benchmark_tts conf/benchmark/vocoder.yaml ${readme:+--readme "$readme"} --judge-backend "$judge_backend" \
  --eval-opts="$eval_opts" --voc_exp "$voc_exp" --num_eval "$num_eval"
