#!/usr/bin/env bash
# zero-shot $whisper with CTranslate2: greedy, beam $nbest_beam with its $nbest_beam-best list, and that list rescored with exp/lm_whisper_en${profile_suffix} (weights tuned on $valid_set); scored, exp/nbest${profile_suffix}/RESULTS.md (README section nbest)
# outputs: exp/nbest${profile_suffix}/RESULTS.md
sfx=""; [ "$profile" = quick ] && sfx=_quick
e=exp/nbest$profile_suffix
for s in $test_sets; do
  python -m speechproc.bin.whisper_decode --backend ct2 --model "$whisper" "data/$s$sfx" "$e/greedy/decode_$s"
  python -m speechproc.bin.whisper_decode --backend ct2 --model "$whisper" --beam-size "$nbest_beam" \
    --nbest "$nbest_beam" "data/$s$sfx" "$e/beam$nbest_beam/decode_$s"
done
for s in $test_sets; do
  python -m speechproc.bin.rescore_nbest --lm-dir "exp/lm_whisper_en$profile_suffix" --normalize whisper_en \
    --tune-nbest "$e/beam$nbest_beam/decode_$valid_set/nbest" --tune-ref "data/$valid_set$sfx/text" \
    "$e/beam$nbest_beam/decode_$s/nbest" "$e/beam${nbest_beam}_lm/decode_$s"
  for sys in greedy "beam$nbest_beam" "beam${nbest_beam}_lm"; do
    python -m speechproc.bin.score_asr --ref "data/$s$sfx/text" --hyp "$e/$sys/decode_$s/text" --normalize whisper_en \
      "$e/$sys/decode_$s"
  done
done
python -m speechproc.bin.make_results "$e" $([ -f README.md ] && [ "$profile" = full ] && echo "--readme README.md --section nbest")
