#!/usr/bin/env bash
# data preparation: train_nodev (848), train_dev (100), test (130) with utt2dur
# outputs: data/train_nodev/utt2dur data/train_dev/utt2dur data/test/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data an4 data --num-dev "$num_dev" --utt2dur train_nodev train_dev test --nj "$nj" \
  --cmd "$cmd" --cmd-conf "$cmd_conf"
