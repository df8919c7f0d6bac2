#!/usr/bin/env bash
# AN4 (CMU census database) speech recognition, ESPnet's egs2/an4/asr1 splits.
# Stages:
#   1  data preparation: data/{train_nodev,train_dev,test} with utt2dur (audio checked in nj jobs)
. "$(dirname "$0")/../../../tools/recipe.sh"

num_dev=100   # utterances of train held out as train_dev (ESPnet: the first 100)
recipe_main "$@"
