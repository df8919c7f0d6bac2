#!/usr/bin/env bash
# scoring: WER/CER (sclite-style result.txt) of every decode dir, each time rewriting exp/RESULTS.md
# outputs: exp/RESULTS.md
for s in $test_sets; do
  python -m speechproc.bin.score_asr --ref "data/$s/text" --hyp "exp/$asr_exp/decode_${s}_beam/text" --results exp \
    "exp/$asr_exp/decode_${s}_beam"
done
