#!/usr/bin/env bash
# CMU ARCTIC voice conversion: parallel source -> target speaker (clb -> slt by default).
# Stages:
#   1  data preparation: data/<src>_{train,eval}, data/<tgt>_{train,eval} (parallel ids) with utt2dur
. "$(dirname "$0")/../../../tools/recipe.sh"

src_spk=clb   # source speaker
tgt_spk=slt   # target speaker
recipe_main "$@"
