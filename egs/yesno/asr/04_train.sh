#!/usr/bin/env bash
# ASR training: toy Conformer CTC/attention (conf/train_asr.yaml) into exp/asr
# outputs: exp/asr/model.pt
python -m speechproc.bin.train "$asr_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder exp/asr --train_data dump/train --valid_data dump/test \
  --token_dir data/token/word --cmvn_stats dump/train/cmvn.npz $train_args
