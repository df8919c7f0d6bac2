#!/usr/bin/env bash
# training: one frame-level converter per method of $methods (conf/vc_<method>.yaml) into exp/$profile/<src>_<tgt>_<method>
# outputs: $(for m in $methods; do echo "exp/$profile/${src_spk}_${tgt_spk}_$m/vc.json"; done)
case "$profile" in quick) suffix=_quick; n=${max_utts:-5} ;; *) suffix=; n=${max_utts:-0} ;; esac
for m in $methods; do
  python -m speechproc.bin.train_vc --src "data/${src_spk}_train" --tgt "data/${tgt_spk}_train" \
    --config "conf/vc_${m}${suffix}.yaml" --max-utts "$n" $([ "$force" = true ] && echo --force) $train_opts \
    "exp/$profile/${src_spk}_${tgt_spk}_$m"
done
