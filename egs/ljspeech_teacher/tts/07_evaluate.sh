#!/usr/bin/env bash
# evaluation against the teacher's audio: MCD, F0, Whisper-judge CER/WER and RTF side by side (exp/result_eval.md)
# outputs: exp/result_eval.md
python -m speechproc.bin.evaluate_tts --ref data/eval --ref-name "teacher (reference audio)" \
  --judge-backend "$judge_backend" $eval_opts \
  --table exp/result_eval.md "exp/$tts_exp/synth_eval_$vocoder" \
  exp/baselines/synth_eval_hibari exp/baselines/synth_eval_espeak-ng exp/baselines/synth_eval_flite
