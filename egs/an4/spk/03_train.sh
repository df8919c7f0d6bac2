#!/usr/bin/env bash
# training: ECAPA-TDNN speaker classifier with AAM-softmax on random 2 s crops into exp/${spk_exp} (--profile quick: exp/${spk_exp}_quick)
# outputs: exp/${spk_exp}${profile_suffix}/model.pt exp/${spk_exp}${profile_suffix}/speakers.txt
case "$profile" in quick) config=${spk_config:-conf/train_ecapa_debug.yaml} ;; *) config=${spk_config:-conf/train_ecapa.yaml} ;; esac
e=exp/$spk_exp$profile_suffix  # each profile trains into its own exp dir
python -m speechproc.bin.train "$config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "$e" --train_data "dump/$train_set" --valid_data "dump/$valid_set" \
  --cmvn_stats "dump/$train_set/cmvn.npz"
