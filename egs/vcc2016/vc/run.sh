#!/usr/bin/env bash
# Voice Conversion Challenge 2016: parallel source -> target speaker conversion.
# Stages:
#   1  data preparation: data/<src>_{train,eval}, data/<tgt>_{train,eval} (parallel ids) with utt2dur
. "$(dirname "$0")/../../../tools/recipe.sh"

src_spk=SF1   # source speaker (SF1 SM1 TF1 TM1)
tgt_spk=TF1   # target speaker
recipe_main "$@"
