#!/usr/bin/env bash
# evaluation: MCD, F0 and Whisper-judge CER/WER of synthesized vs natural speech (eval/result.md per synthesis dir)
# outputs: exp/$tts_exp/synth_${synth_sets%% *}_$vocoder/eval/result.md
for s in $synth_sets; do
  python -m speechproc.bin.evaluate_tts --ref "data/$s" --judge-backend "$judge_backend" $eval_opts \
    "exp/$tts_exp/synth_${s}_$vocoder"
done
