#!/usr/bin/env bash
# training speed on this machine's cores: one epoch of the ASR config (asr_config, default conf/train_asr_conformer.yaml) on ${speed_train_utts} utterances with $train_speed_settings (README section train_speed; run it on an idle machine)
# outputs: exp/train_speed${profile_suffix}/result.json
case "$profile" in quick) config=${asr_config:-conf/train_asr_debug.yaml} ;; *) config=${asr_config:-conf/train_asr_conformer.yaml} ;; esac
python -m speechproc.bin.benchmark_train "$config" --settings $train_speed_settings --max-train-utts "$speed_train_utts" \
  --out "exp/train_speed$profile_suffix" $([ "$profile" = full ] && echo "--readme README.md --section train_speed") -- \
  --train_data "dump/${train_set}_sp" --valid_data "dump/$valid_set" --token_dir "data/token/${token_type}${nbpe}" \
  --cmvn_stats "dump/${train_set}_sp/cmvn.npz" $train_args
