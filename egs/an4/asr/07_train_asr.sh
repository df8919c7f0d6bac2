#!/usr/bin/env bash
# ASR training: joint CTC/attention Conformer on the speed-perturbed fbank dumps into exp/${asr_exp}${profile_suffix}
# outputs: exp/${asr_exp}${profile_suffix}/model.pt
case "$profile" in quick) config=${asr_config:-conf/train_asr_debug.yaml} ;; *) config=${asr_config:-conf/train_asr_conformer.yaml} ;; esac
python -m speechproc.bin.train "$config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$asr_exp$profile_suffix" --train_data "dump/${train_set}_sp" --valid_data "dump/$valid_set" \
  --token_dir "data/token/${token_type}${nbpe}" --cmvn_stats "dump/${train_set}_sp/cmvn.npz" $train_args
