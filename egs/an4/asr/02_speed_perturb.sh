#!/usr/bin/env bash
# speed perturbation: data/${train_set}_sp = the training set at speeds ${speed_factors}
# outputs: data/${train_set}_sp/wav.scp
python -m speechproc.bin.perturb_data_dir "data/$train_set" "data/${train_set}_sp" --factors $speed_factors
