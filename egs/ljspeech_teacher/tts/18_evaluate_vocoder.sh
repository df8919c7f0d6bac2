#!/usr/bin/env bash
# GAN vocoder ($voc_exp) against Griffin-Lim, copy synthesis of the held-out teacher sentences and the 32 real LJSpeech clips (exp/result_vocoder_{teacher,lj}.md, README)
# outputs: exp/result_vocoder_teacher.md exp/result_vocoder_lj.md
cs=(python -m speechproc.bin.synthesize --copy-synthesis --mel-config dump/train --nthreads 2)
"${cs[@]}" --data data/eval --vocoder griffin_lim exp/copy_synthesis/eval_griffin_lim
"${cs[@]}" --data data/eval --vocoder-checkpoint "exp/$voc_exp" "exp/$voc_exp/copy_eval"
"${cs[@]}" --data data/lj/all --vocoder griffin_lim exp/copy_synthesis/lj_all_griffin_lim
"${cs[@]}" --data data/lj/all --vocoder-checkpoint "exp/$voc_exp" "exp/$voc_exp/copy_lj_all"
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (natural reference audio)" \
  --judge-backend "$judge_backend" $eval_opts --names "Griffin-Lim (32 iterations),$voc_exp" \
  --title "Copy synthesis of the $num_eval held-out teacher sentences" \
  --table exp/result_vocoder_teacher.md --readme README.md --section vocoder_teacher \
  exp/copy_synthesis/eval_griffin_lim "exp/$voc_exp/copy_eval"
python -m speechproc.bin.evaluate_tts --ref data/lj/all --ref-name "natural LJSpeech recordings" \
  --judge-backend "$judge_backend" $eval_opts --names "Griffin-Lim (32 iterations),$voc_exp" \
  --title "Copy synthesis of the 32 real LJSpeech clips (a speaker the vocoder never heard)" \
  --table exp/result_vocoder_lj.md --readme README.md --section vocoder_lj \
  exp/copy_synthesis/lj_all_griffin_lim "exp/$voc_exp/copy_lj_all"
