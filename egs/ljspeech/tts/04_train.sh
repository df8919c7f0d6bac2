#!/usr/bin/env bash
# acoustic model training: Tacotron 2 with guided attention (conf/train_tacotron2*.yaml) into exp/$tts_exp
# outputs: exp/$tts_exp/model.pt
case "$profile" in quick) config=${tts_config:-conf/train_tacotron2_debug.yaml} ;; *) config=${tts_config:-conf/train_tacotron2.yaml} ;; esac
python -m speechproc.bin.train "$config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$tts_exp" --train_data "dump/$train_set" --valid_data "dump/$valid_set" \
  --token_dir data/token/char --cmvn_stats "dump/$train_set/cmvn.npz"
