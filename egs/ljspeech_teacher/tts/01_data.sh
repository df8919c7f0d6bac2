#!/usr/bin/env bash
# teacher corpus: $num_utts LJSpeech sentences synthesized by the hibari-tts teacher (data/{train,dev,eval}, 24 kHz)
# outputs: data/train/wav.scp data/dev/wav.scp data/eval/wav.scp data/corpus.json
. ./db.sh
python -m speechproc.bin.make_teacher_corpus --num-utts "$num_utts" --num-dev "$num_dev" --num-eval "$num_eval" \
  --voice "$teacher_voice" --nj "$nj" data
