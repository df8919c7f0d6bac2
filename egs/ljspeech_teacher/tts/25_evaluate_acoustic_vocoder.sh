#!/usr/bin/env bash
# Tacotron 2 and FastSpeech 2 with the multi-speaker GAN vocoder (exp/${voc_exp}_multi) on the held-out sentences, beside their Griffin-Lim synthesis and the teacher's audio (exp/result_eval_vocoder.md, README; conf/benchmark/eval_vocoder.yaml)
# outputs: exp/result_eval_vocoder.md
python -m speechproc.bin.benchmark_tts conf/benchmark/eval_vocoder.yaml ${readme:+--readme "$readme"} --judge-backend "$judge_backend" \
  --eval-opts="$eval_opts" --tts_exp "$tts_exp" --fs2_exp "$fs2_exp" --voc_exp "$voc_exp" --num_eval "$num_eval"
