#!/usr/bin/env bash
# LibriSpeech speech recognition (for users who have the corpus; not shipped here).
# Stages:
#   1  data preparation: one data dir per part (dev-clean -> data/dev_clean) with utt2dur
. "$(dirname "$0")/../../../tools/recipe.sh"

parts="train-clean-100 dev-clean test-clean"   # LibriSpeech parts to prepare (space separated)
recipe_main "$@"
