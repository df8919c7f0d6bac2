#!/usr/bin/env bash
# data preparation: train (30) and test (30) with utt2dur
# outputs: data/train/utt2dur data/test/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data yesno data --utt2dur train test --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf"
