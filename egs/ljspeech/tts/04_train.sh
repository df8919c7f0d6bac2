#!/usr/bin/env bash
# acoustic model training: Tacotron 2 with guided attention ($tts_config) into exp/$tts_exp
# outputs: exp/$tts_exp/model.pt
python -m speechproc.bin.train "$tts_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$tts_exp" --train_data "dump/$train_set" --valid_data "dump/$valid_set" \
  --token_dir data/token/char --cmvn_stats "dump/$train_set/cmvn.npz"
