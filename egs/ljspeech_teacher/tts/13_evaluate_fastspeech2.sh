#!/usr/bin/env bash
# FastSpeech 2 synthesis of the held-out sentences, then exp/result_eval.md again with both acoustic models
# outputs: exp/$fs2_exp/synth_eval_$vocoder/wav.scp exp/result_eval.md
python -m speechproc.bin.synthesize --exp-dir "exp/$fs2_exp" --data data/eval --vocoder "$vocoder" \
  "exp/$fs2_exp/synth_eval_$vocoder"
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (reference audio)" \
  --judge-backend "$judge_backend" $eval_opts \
  --table exp/result_eval.md "exp/$tts_exp/synth_eval_$vocoder" "exp/$fs2_exp/synth_eval_$vocoder" \
  exp/baselines/synth_eval_hibari exp/baselines/synth_eval_espeak-ng exp/baselines/synth_eval_flite
