#!/usr/bin/env bash
# data preparation: train (948 utts, 74 speakers) split into train_spk / dev_spk (held-out utterances of every speaker), test (130 utts, 10 new speakers)
# outputs: data/train_spk/utt2dur data/dev_spk/utt2dur data/test/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data an4 data
python -m speechproc.bin.compute_utt2dur --cmd "$cmd" --cmd-conf "$cmd_conf" --nj "$nj" data/train data/test
python -m speechproc.bin.holdout_per_speaker --num-per-speaker "$num_dev_per_spk" --seed "$holdout_seed" \
  data/train "data/$train_set" "data/$valid_set"
