#!/usr/bin/env bash
# decoding: joint CTC/attention beam search of the test sets, JOB=1:nj through the launcher
# outputs: $(for s in $test_sets; do echo exp/$asr_exp/decode_${s}_beam/text; done)
for s in $test_sets; do
  python -m speechproc.bin.decode_asr --exp-dir "exp/$asr_exp" --data "dump/$s" --config "$decode_config" \
    --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args "exp/$asr_exp/decode_${s}_beam"
done
