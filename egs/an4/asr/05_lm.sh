#!/usr/bin/env bash
# LM training: Transformer token LM on the training transcripts (+ ${lm_extra_text}) into exp/lm${profile_suffix}
# outputs: exp/lm${profile_suffix}/model.pt
case "$profile" in quick) config=${lm_config:-conf/train_lm_debug.yaml} ;; *) config=${lm_config:-conf/train_lm.yaml} ;; esac
python -m speechproc.bin.train "$config" --cmd "$cmd" --cmd-conf "$cmd_conf" --output_folder exp/lm${profile_suffix} \
  --token_dir "data/token/${token_type}${nbpe}" --train_text "data/$train_set" --valid_text "data/$valid_set" \
  --extra_text "[$lm_extra_text]" $lm_args
