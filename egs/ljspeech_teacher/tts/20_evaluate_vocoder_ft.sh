#!/usr/bin/env bash
# teacher-trained vs LJSpeech-fine-tuned GAN vocoder vs Griffin-Lim, copy synthesis of the 7 real clips held out of stage 19 (exp/result_vocoder_lj_heldout.md, README)
# outputs: exp/result_vocoder_lj_heldout.md
python -m speechproc.bin.combine_data_dir data/lj/heldout data/lj/dev data/lj/eval
cs=(python -m speechproc.bin.synthesize --copy-synthesis --mel-config dump/train --data data/lj/heldout --nthreads 2)
"${cs[@]}" --vocoder griffin_lim exp/copy_synthesis/lj_heldout_griffin_lim
"${cs[@]}" --vocoder-checkpoint "exp/$voc_exp" "exp/$voc_exp/copy_lj_heldout"
"${cs[@]}" --vocoder-checkpoint "exp/${voc_exp}_lj" "exp/${voc_exp}_lj/copy_lj_heldout"
python -m speechproc.bin.evaluate_tts --ref data/lj/heldout --ref-name "natural LJSpeech recordings" \
  --judge-backend "$judge_backend" $eval_opts \
  --names "Griffin-Lim (32 iterations),$voc_exp (teacher only),${voc_exp}_lj (fine-tuned)" \
  --title "Copy synthesis of the 7 real LJSpeech clips held out of the vocoder fine-tuning" \
  --table exp/result_vocoder_lj_heldout.md --readme README.md --section vocoder_lj_heldout \
  exp/copy_synthesis/lj_heldout_griffin_lim "exp/$voc_exp/copy_lj_heldout" "exp/${voc_exp}_lj/copy_lj_heldout"
