#!/usr/bin/env bash
# pseudo-rehearsal data: $pseudo_utts LJSpeech sentences read by the teacher TTS (hibari-tts extra), labelled with the pretrained model's transcripts (data/pseudo)
# outputs: data/pseudo/text
. ./db.sh
[ "$pseudo_utts" -gt 0 ] || { echo "pseudo_utts=0: no pseudo-rehearsal data (drop pseudo_rehearsal from conf/methods.yaml)"; exit 0; }
num=$pseudo_utts; [ "$profile" = quick ] && num=4
python -m speechproc.bin.make_teacher_corpus --num-utts "$num" --num-dev 0 --num-eval 0 --seed 7 --nj "$nj" data/pseudo_tts
python -m speechproc.bin.whisper_decode --backend faster-whisper --model "$whisper" data/pseudo_tts/train exp/zeroshot/decode_pseudo
rm -rf data/pseudo.tmp && cp -r data/pseudo_tts/train data/pseudo.tmp && cp exp/zeroshot/decode_pseudo/text data/pseudo.tmp/text
python -m speechproc.bin.fix_data_dir data/pseudo.tmp
rm -rf data/pseudo && mv data/pseudo.tmp data/pseudo
