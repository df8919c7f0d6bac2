#!/usr/bin/env bash
# real LJSpeech clips for speaker adaptation: data/lj/{train_adapt,dev,eval} (25 / 3 for checkpoint selection / last 4) + mels
# outputs: dump/lj_train/feats.scp dump/lj_dev/feats.scp dump/lj_eval/feats.scp
. ./db.sh
python -m speechproc.bin.prepare_data ljspeech data/lj
python -m speechproc.bin.holdout_per_speaker --num-per-speaker 3 data/lj/train data/lj/train_adapt data/lj/dev
python -m speechproc.bin.compute_mel --mel-config conf/mel.yaml --nj "$nj" \
  data/lj/train_adapt dump/lj_train data/lj/dev dump/lj_dev data/lj/eval dump/lj_eval
