#!/usr/bin/env bash
# zero-shot: the pretrained model on every set of the suite (faster-whisper, 30-s window, greedy), Whisper-normalised WER
# outputs: $(for x in $suite; do echo exp/zeroshot/decode_${x%%=*}/score_wer/score.json; done)
for x in $suite; do
  name=${x%%=*}; data=${x#*=}
  python -m speechproc.bin.whisper_decode --backend faster-whisper --model "$whisper" "$data" "exp/zeroshot/decode_$name"
  python -m speechproc.bin.score_asr --ref "$data/text" --hyp "exp/zeroshot/decode_$name/text" --normalize whisper_en \
    "exp/zeroshot/decode_$name"
done
