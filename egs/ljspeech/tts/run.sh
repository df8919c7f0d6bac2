#!/usr/bin/env bash
# LJSpeech text-to-speech (single female speaker, 22.05 kHz).
# Stages:
#   1  data preparation: data/{all,train,eval} with utt2dur
. "$(dirname "$0")/../../../tools/recipe.sh"

recipe_main "$@"
