#!/usr/bin/env bash
# synthesis: the texts of each set in $synth_sets, free-running, with $vocoder (exp/$tts_exp/synth_<set>_<vocoder>)
# outputs: exp/$tts_exp/synth_${synth_sets%% *}_$vocoder/wav.scp
for s in $synth_sets; do
  python -m speechproc.bin.synthesize --exp-dir "exp/$tts_exp" --data "data/$s" --vocoder "$vocoder" \
    "exp/$tts_exp/synth_${s}_$vocoder"
done
