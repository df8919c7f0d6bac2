#!/usr/bin/env bash
# training: ECAPA-TDNN speaker classifier with AAM-softmax on random 2 s crops into exp/${spk_exp}
# outputs: exp/${spk_exp}/model.pt exp/${spk_exp}/speakers.txt
case "$profile" in quick) config=${spk_config:-conf/train_ecapa_debug.yaml} ;; *) config=${spk_config:-conf/train_ecapa.yaml} ;; esac
python -m speechproc.bin.train "$config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$spk_exp" --train_data "dump/$train_set" --valid_data "dump/$valid_set" \
  --cmvn_stats "dump/$train_set/cmvn.npz"
