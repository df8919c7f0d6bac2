#!/usr/bin/env bash
# FastSpeech 2 on the held-out sentences with Griffin-Lim, exp/${voc_exp}_multi and its fine-tuned exp/${voc_exp}_fs2, beside the teacher's audio (README section eval_vocoder_fs2; conf/benchmark/eval_vocoder_fs2.yaml)
# outputs: exp/result_eval_vocoder_fs2.md
python -m speechproc.bin.benchmark_tts conf/benchmark/eval_vocoder_fs2.yaml ${readme:+--readme "$readme"} --judge-backend "$judge_backend" \
  --eval-opts="$eval_opts" --fs2_exp "$fs2_exp" --voc_exp "$voc_exp" --num_eval "$num_eval"
