#!/usr/bin/env bash
# scoring: WER/CER (sclite-style result.txt) of every decode dir, each time rewriting exp/RESULTS.md
# outputs: exp/RESULTS.md
for s in $test_sets; do
  for d in "exp/$asr_exp$profile_suffix/decode_${s}_beam" "exp/$asr_exp$profile_suffix/decode_${s}_beam_lm"; do
    [ -f "$d/text" ] || continue
    python -m speechproc.bin.score_asr --ref "data/$s/text" --hyp "$d/text" --results exp "$d"
  done
done
