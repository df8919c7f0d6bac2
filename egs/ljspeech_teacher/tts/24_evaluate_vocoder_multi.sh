#!/usr/bin/env bash
# Griffin-Lim vs teacher-only ($voc_exp) vs multi-speaker (${voc_exp}_multi) vocoder, copy synthesis of the held-out teacher sentences and the 32 real LJSpeech clips (exp/result_vocoder_multi_{teacher,lj}.md, README; conf/benchmark/vocoder_multi.yaml)
# outputs: exp/result_vocoder_multi_teacher.md exp/result_vocoder_multi_lj.md
python -m speechproc.bin.benchmark_tts conf/benchmark/vocoder_multi.yaml ${readme:+--readme "$readme"} --judge-backend "$judge_backend" \
  --eval-opts="$eval_opts" --voc_exp "$voc_exp" --num_eval "$num_eval"
