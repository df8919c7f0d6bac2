#!/usr/bin/env bash
# HiFi-GAN against Griffin-Lim on the held-out sentences: copy synthesis and both acoustic models (exp/result_vocoder.md)
# outputs: exp/$voc_exp/synth_eval_copy/wav.scp exp/result_vocoder.md
v=(--vocoder hifigan --vocoder-checkpoint "exp/$voc_exp")
python -m speechproc.bin.synthesize --copy-synthesis --mel-config dump/train --data data/eval \
  exp/copy_synthesis/synth_eval_griffin_lim
python -m speechproc.bin.synthesize --copy-synthesis --mel-config dump/train --data data/eval "${v[@]}" \
  "exp/$voc_exp/synth_eval_copy"
for m in "$tts_exp" "$fs2_exp"; do
  python -m speechproc.bin.synthesize --exp-dir "exp/$m" --data data/eval "${v[@]}" "exp/$m/synth_eval_$voc_exp"
done
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (reference audio)" \
  --judge-backend "$judge_backend" $eval_opts --table exp/result_vocoder.md \
  exp/copy_synthesis/synth_eval_griffin_lim "exp/$voc_exp/synth_eval_copy" \
  "exp/$tts_exp/synth_eval_$vocoder" "exp/$tts_exp/synth_eval_$voc_exp" \
  "exp/$fs2_exp/synth_eval_$vocoder" "exp/$fs2_exp/synth_eval_$voc_exp"
