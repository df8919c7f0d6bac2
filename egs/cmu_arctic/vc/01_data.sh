#!/usr/bin/env bash
# data preparation: parallel source/target train and eval data dirs with utt2dur
# outputs: data/${src_spk}_train/utt2dur data/${tgt_spk}_train/utt2dur data/${src_spk}_eval/utt2dur data/${tgt_spk}_eval/utt2dur
. ./db.sh
python -m speechproc.bin.prepare_data cmu_arctic --src "$src_spk" --tgt "$tgt_spk" data
python -m speechproc.bin.compute_utt2dur --cmd "$cmd" --cmd-conf "$cmd_conf" --nj "$nj" \
  "data/${src_spk}_train" "data/${tgt_spk}_train" "data/${src_spk}_eval" "data/${tgt_spk}_eval"
