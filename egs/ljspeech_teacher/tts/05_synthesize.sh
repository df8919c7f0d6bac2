#!/usr/bin/env bash
# synthesis of the held-out sentences (data/eval), free-running, with $vocoder (exp/$tts_exp/synth_eval_$vocoder)
# outputs: exp/$tts_exp/synth_eval_$vocoder/wav.scp
python -m speechproc.bin.synthesize --exp-dir "exp/$tts_exp" --data data/eval --vocoder "$vocoder" \
  "exp/$tts_exp/synth_eval_$vocoder"
