#!/usr/bin/env bash
# conversion: the source's evaluation utterances through each model (exp/$profile/<src>_<tgt>_<method>/convert_<src>_eval)
# outputs: $(for m in $methods; do echo "exp/$profile/${src_spk}_${tgt_spk}_$m/convert_${src_spk}_eval/convert.json"; done)
case "$profile" in quick) n=${max_utts:-3} ;; *) n=${max_utts:-0} ;; esac
for m in $methods; do
  python -m speechproc.bin.convert_vc --exp-dir "exp/$profile/${src_spk}_${tgt_spk}_$m" --data "data/${src_spk}_eval" \
    --nj "$nj" --cmd "$cmd" --cmd-conf "$cmd_conf" --max-utts "$n" $convert_opts \
    "exp/$profile/${src_spk}_${tgt_spk}_$m/convert_${src_spk}_eval"
done
