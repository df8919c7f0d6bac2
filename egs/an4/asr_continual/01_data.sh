#!/usr/bin/env bash
# data: AN4 (train_nodev/train_dev/test), yesno (train_nodev/dev/test, 8 kHz), the general-domain suite data/general (LJSpeech 32 + ARCTIC 58; evaluation only), data/background (VCC 2016 training audio of 4 speakers, no text: the domain router's speech of no period)
# outputs: data/an4/test/text data/yesno/test/text data/general/text data/background/wav.scp
. ./db.sh
python -m speechproc.bin.prepare_data an4 --num-dev 100 data/an4
python -m speechproc.bin.prepare_data yesno data/yesno
python -m speechproc.bin.holdout_per_speaker --num-per-speaker 5 data/yesno/train data/yesno/train_nodev data/yesno/dev
python -m speechproc.bin.prepare_data ljspeech --num-eval 0 data/lj
python -m speechproc.bin.prepare_data cmu_arctic --num-eval 0 data/arctic
python -m speechproc.bin.combine_data_dir data/general data/lj/all data/arctic/clb_all data/arctic/slt_all
python -m speechproc.bin.prepare_data vcc2016 data/vcc
python -m speechproc.bin.combine_data_dir --no-text data/background data/vcc/SF1_train data/vcc/SM1_train \
  data/vcc/TF1_train data/vcc/TM1_train
if [ "$profile" = quick ]; then  # a few utterances of everything: checks every stage in minutes
  for s in an4/train_nodev an4/train_dev an4/test yesno/train_nodev yesno/dev yesno/test general background; do
    python -m speechproc.bin.subset_data_dir --first 4 "data/$s" "data/${s}_q"
    rm -rf "data/$s" && mv "data/${s}_q" "data/$s"
  done
fi
