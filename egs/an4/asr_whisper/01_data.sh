#!/usr/bin/env bash
# data preparation: train_nodev (848), train_dev (100), test (130) with utt2dur; --profile quick: 16/8/8-utterance subsets
# outputs: data/train_nodev/utt2dur data/train_dev/utt2dur data/test/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data an4 --num-dev "$num_dev" data
python -m speechproc.bin.compute_utt2dur --cmd "$cmd" --cmd-conf "$cmd_conf" --nj "$nj" \
  data/train_nodev data/train_dev data/test
if [ "$profile" = quick ]; then
  python -m speechproc.bin.subset_data_dir --first 16 data/train_nodev data/train_nodev_quick
  for s in train_dev test; do python -m speechproc.bin.subset_data_dir --first 8 "data/$s" "data/${s}_quick"; done
fi
