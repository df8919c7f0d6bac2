#!/usr/bin/env bash
# ASR training: joint CTC/attention Conformer into exp/${asr_exp}
# outputs: exp/${asr_exp}/model.pt
case "$profile" in quick) config=${asr_config:-conf/train_asr_debug.yaml} ;; *) config=${asr_config:-conf/train_asr_conformer.yaml} ;; esac
python -m speechproc.bin.train "$config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$asr_exp" --train_data "dump/$train_set" --valid_data "dump/$valid_set" \
  --token_dir "data/token/${token_type}${nbpe}" --cmvn_stats "dump/$train_set/cmvn.npz" $train_args
