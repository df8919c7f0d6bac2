#!/usr/bin/env bash
# adaptation result: the 4 held-out real clips synthesized before and after adaptation, scored against the real audio
# outputs: exp/$tts_exp/synth_lj_eval_$vocoder/wav.scp exp/${tts_exp}_adapt/synth_lj_eval_$vocoder/wav.scp exp/result_adapt.md
for m in "$tts_exp" "${tts_exp}_adapt"; do
  python -m speechproc.bin.synthesize --exp-dir "exp/$m" --data data/lj/eval --vocoder "$vocoder" \
    "exp/$m/synth_lj_eval_$vocoder"
done
python -m speechproc.bin.evaluate_tts --ref data/lj/eval --judge-backend "$judge_backend" $eval_opts \
  --table exp/result_adapt.md "exp/$tts_exp/synth_lj_eval_$vocoder" "exp/${tts_exp}_adapt/synth_lj_eval_$vocoder"
