#!/usr/bin/env bash
# data preparation: one data dir per LibriSpeech part with utt2dur
# outputs: $(for p in $parts; do echo data/${p//-/_}/utt2dur; done)
. ./db.sh
python -m speechproc.bin.prepare_data librispeech data --parts $parts --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --utt2dur $(for p in $parts; do echo "${p//-/_}"; done)
