#!/usr/bin/env bash
# data preparation: parallel source/target train and eval data dirs with utt2dur
# outputs: data/${src_spk}_train/utt2dur data/${tgt_spk}_train/utt2dur data/${src_spk}_eval/utt2dur data/${tgt_spk}_eval/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data vcc2016 data --src "$src_spk" --tgt "$tgt_spk" --nj "$nj" --cmd "$cmd" \
  --cmd-conf "$cmd_conf" --utt2dur "${src_spk}_train" "${tgt_spk}_train" "${src_spk}_eval" "${tgt_spk}_eval"
