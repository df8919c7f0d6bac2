#!/usr/bin/env bash
# zero-shot: the pretrained model on every set of the suite (faster-whisper, 30-s window, greedy: exp/zeroshot; CTranslate2 beam search of each width in $zeroshot_beams: exp/zeroshot_beam<N>), Whisper-normalised WER
# outputs: $(for x in $suite; do echo exp/zeroshot/decode_${x%%=*}/score_wer/score.json; for b in $zeroshot_beams; do echo exp/zeroshot_beam$b/decode_${x%%=*}/score_wer/score.json; done; done)
for x in $suite; do
  name=${x%%=*}; data=${x#*=}
  for dec in faster-whisper:1:exp/zeroshot $(for b in $zeroshot_beams; do echo "ct2:$b:exp/zeroshot_beam$b"; done); do
    IFS=: read -r backend beam dir <<< "$dec"
    python -m speechproc.bin.whisper_decode --backend "$backend" --beam-size "$beam" --model "$whisper" \
      --score whisper_en "$data" "$dir/decode_$name"
  done
done
