#!/usr/bin/env bash
# decoding: joint CTC/attention beam search of the test half, JOB=1:nj through the launcher
# outputs: exp/asr/decode_test/text
python -m speechproc.bin.decode_asr --exp-dir exp/asr --data dump/test --config "$decode_config" \
  --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args exp/asr/decode_test
