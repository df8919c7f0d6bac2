#!/usr/bin/env bash
# decoding: beam search without and with LM shallow fusion, JOB=1:nj through the launcher
# outputs: $(for s in $test_sets; do echo exp/$asr_exp$profile_suffix/decode_${s}_beam/text; done)
for s in $test_sets; do
  python -m speechproc.bin.decode_asr --exp-dir "exp/$asr_exp$profile_suffix" --data "dump/$s" --config "$decode_config" \
    --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args "exp/$asr_exp$profile_suffix/decode_${s}_beam"
  if [ "$use_lm" = true ]; then
    python -m speechproc.bin.decode_asr --exp-dir "exp/$asr_exp$profile_suffix" --data "dump/$s" --config "$lm_decode_config" \
      --lm-dir exp/lm${profile_suffix} --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" $decode_args "exp/$asr_exp$profile_suffix/decode_${s}_beam_lm"
  fi
done
