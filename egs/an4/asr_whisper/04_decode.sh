#!/usr/bin/env bash
# decoding: greedy decoding of the dev/test sets with every fine-tuned model, JOB=1:nj through the launcher
# outputs: $(for st in $strategies; do for s in $test_sets; do echo exp/finetune_$st/decode_$s/text; done; done)
sfx=""; [ "$profile" = quick ] && sfx=_quick
for st in $strategies; do
  for s in $test_sets; do
    python -m speechproc.bin.decode_asr --exp-dir "exp/finetune_$st" --data "data/$s$sfx" --config conf/decode.yaml \
      --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args "exp/finetune_$st/decode_$s"
  done
done
