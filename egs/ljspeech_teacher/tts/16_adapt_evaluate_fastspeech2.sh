#!/usr/bin/env bash
# adaptation result of both acoustic models on the 4 held-out real clips, before and after (exp/result_adapt.md)
# outputs: exp/${fs2_exp}_adapt/synth_lj_eval_$vocoder/wav.scp exp/result_adapt.md
for m in "$fs2_exp" "${fs2_exp}_adapt"; do
  python -m speechproc.bin.synthesize --exp-dir "exp/$m" --data data/lj/eval --vocoder "$vocoder" \
    "exp/$m/synth_lj_eval_$vocoder"
done
python -m speechproc.bin.evaluate_tts --ref data/lj/eval --judge-backend "$judge_backend" $eval_opts \
  --table exp/result_adapt.md "exp/$tts_exp/synth_lj_eval_$vocoder" "exp/${tts_exp}_adapt/synth_lj_eval_$vocoder" \
  "exp/$fs2_exp/synth_lj_eval_$vocoder" "exp/${fs2_exp}_adapt/synth_lj_eval_$vocoder"
