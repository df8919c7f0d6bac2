#!/usr/bin/env bash
# Griffin-Lim vs teacher-only ($voc_exp) vs multi-speaker (${voc_exp}_multi) vocoder, copy synthesis of the held-out teacher sentences and the 32 real LJSpeech clips (exp/result_vocoder_multi_{teacher,lj}.md, README)
# outputs: exp/result_vocoder_multi_teacher.md exp/result_vocoder_multi_lj.md
cs=(python -m speechproc.bin.synthesize --copy-synthesis --mel-config dump/train --nthreads 2)
"${cs[@]}" --data data/eval --vocoder griffin_lim exp/copy_synthesis/eval_griffin_lim
"${cs[@]}" --data data/eval --vocoder-checkpoint "exp/$voc_exp" "exp/$voc_exp/copy_eval"
"${cs[@]}" --data data/eval --vocoder-checkpoint "exp/${voc_exp}_multi" "exp/${voc_exp}_multi/copy_eval"
"${cs[@]}" --data data/lj/all --vocoder griffin_lim exp/copy_synthesis/lj_all_griffin_lim
"${cs[@]}" --data data/lj/all --vocoder-checkpoint "exp/$voc_exp" "exp/$voc_exp/copy_lj_all"
"${cs[@]}" --data data/lj/all --vocoder-checkpoint "exp/${voc_exp}_multi" "exp/${voc_exp}_multi/copy_lj_all"
names="Griffin-Lim (32 iterations),$voc_exp (teacher voice only),${voc_exp}_multi (teacher + 78 real speakers)"
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (natural reference audio)" \
  --judge-backend "$judge_backend" $eval_opts --names "$names" \
  --title "Copy synthesis of the $num_eval held-out teacher sentences: teacher-only and multi-speaker vocoder" \
  --table exp/result_vocoder_multi_teacher.md --readme README.md --section vocoder_multi_teacher \
  exp/copy_synthesis/eval_griffin_lim "exp/$voc_exp/copy_eval" "exp/${voc_exp}_multi/copy_eval"
python -m speechproc.bin.evaluate_tts --ref data/lj/all --ref-name "natural LJSpeech recordings" \
  --judge-backend "$judge_backend" $eval_opts --names "$names" \
  --title "Copy synthesis of the 32 real LJSpeech clips (a speaker neither vocoder heard)" \
  --table exp/result_vocoder_multi_lj.md --readme README.md --section vocoder_multi_lj \
  exp/copy_synthesis/lj_all_griffin_lim "exp/$voc_exp/copy_lj_all" "exp/${voc_exp}_multi/copy_lj_all"
