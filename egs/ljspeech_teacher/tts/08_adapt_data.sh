#!/usr/bin/env bash
# real LJSpeech clips for speaker adaptation: data/lj/{train,eval} (eval = last 4 clips held out) and their mels
# outputs: dump/lj_train/feats.scp dump/lj_eval/feats.scp
. ./db.sh
python -m speechproc.bin.prepare_data ljspeech data/lj
python -m speechproc.bin.compute_mel --mel-config conf/mel.yaml --nj "$nj" \
  data/lj/train dump/lj_train data/lj/eval dump/lj_eval
