#!/usr/bin/env bash
# scoring: raw and Whisper-normalised WER/CER of every decode dir, exp/RESULTS.md with the before/after table
# outputs: exp/RESULTS.md
sfx=""; [ "$profile" = quick ] && sfx=_quick
for d in exp/zeroshot_*/decode_* exp/finetune_*/decode_*; do
  case $d in *_whisper_en) continue ;; esac
  [ -f "$d/text" ] || continue
  s=${d##*/decode_}
  python -m speechproc.bin.score_asr --ref "data/$s$sfx/text" --hyp "$d/text" "$d"
  python -m speechproc.bin.score_asr --ref "data/$s$sfx/text" --hyp "$d/text" --normalize whisper_en "${d}_whisper_en"
done
python -m speechproc.bin.make_results exp --finetune-table --dev-set "$valid_set" --test-set test
