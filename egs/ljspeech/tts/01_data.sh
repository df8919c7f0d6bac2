#!/usr/bin/env bash
# data preparation: all clips, train and eval (last 4 clips held out) with utt2dur
# outputs: data/all/utt2dur data/train/utt2dur data/eval/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data ljspeech data --utt2dur all train eval --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf"
