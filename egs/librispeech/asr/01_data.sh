#!/usr/bin/env bash
# data preparation: one data dir per LibriSpeech part with utt2dur
# outputs: $(for p in $parts; do echo data/${p//-/_}/utt2dur; done)
. ./db.sh
python -m speechproc.bin.prepare_data librispeech data --parts $parts
python -m speechproc.bin.compute_utt2dur --cmd "$cmd" --cmd-conf "$cmd_conf" --nj "$nj" \
  $(for p in $parts; do echo "data/${p//-/_}"; done)
