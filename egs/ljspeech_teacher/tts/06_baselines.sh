#!/usr/bin/env bash
# reference systems on the same held-out sentences: espeak-ng, flite and the teacher itself (exp/baselines)
# outputs: exp/baselines/synth_eval_espeak-ng/wav.scp exp/baselines/synth_eval_flite/wav.scp exp/baselines/synth_eval_hibari/wav.scp
for e in espeak-ng flite hibari; do
  python -m speechproc.bin.synthesize --engine "$e" --data data/eval "exp/baselines/synth_eval_$e"
done
