#!/usr/bin/env bash
# streaming ASR training: the Conformer with dynamic chunk training (conf/train_asr_streaming.yaml) into exp/${streaming_exp}${profile_suffix}
# outputs: exp/${streaming_exp}${profile_suffix}/model.pt
case "$profile" in quick) config=${streaming_config:-conf/train_asr_streaming_debug.yaml} ;; *) config=${streaming_config:-conf/train_asr_streaming.yaml} ;; esac
python -m speechproc.bin.train "$config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$streaming_exp$profile_suffix" --train_data "dump/${train_set}_sp" --valid_data "dump/$valid_set" \
  --token_dir "data/token/${token_type}${nbpe}" --cmvn_stats "dump/${train_set}_sp/cmvn.npz" $streaming_train_args
