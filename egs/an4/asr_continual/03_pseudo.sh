#!/usr/bin/env bash
# pseudo-rehearsal data: for each NAME:SENTENCES:SEED of $pseudo_sets, LJSpeech sentences read by the teacher TTS (hibari-tts extra), labelled with the pretrained model's transcripts (data/NAME)
# outputs: $(for s in $pseudo_sets; do echo "data/${s%%:*}/text"; done)
. ./db.sh
[ -n "$pseudo_sets" ] || { echo "pseudo_sets is empty: no pseudo-rehearsal data (drop pseudo_rehearsal from conf/methods.yaml)"; exit 0; }
for spec in $pseudo_sets; do
  IFS=: read -r name num seed <<< "$spec"
  [ "$profile" = quick ] && num=4
  python -m speechproc.bin.make_teacher_corpus --num-utts "$num" --num-dev 0 --num-eval 0 --seed "$seed" --nj "$nj" \
    "data/${name}_tts"
  python -m speechproc.bin.whisper_decode --backend faster-whisper --model "$whisper" "data/${name}_tts/train" \
    "exp/zeroshot/decode_$name"
  rm -rf "data/$name.tmp" && cp -r "data/${name}_tts/train" "data/$name.tmp" && cp "exp/zeroshot/decode_$name/text" "data/$name.tmp/text"
  python -m speechproc.bin.fix_data_dir "data/$name.tmp"
  rm -rf "data/$name" && mv "data/$name.tmp" "data/$name"
done
