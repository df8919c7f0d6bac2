#!/usr/bin/env bash
# fine-tuning: one shared-trainer run per strategy (conf/finetune_<strategy>.yaml) into exp/finetune_<strategy>
# outputs: $(for s in $strategies; do echo exp/finetune_$s/model.pt; done)
sfx=""; quick=(); [ "$profile" = quick ] && { sfx=_quick; quick=(--number_of_epochs 1); }
for s in $strategies; do
  [ -f "conf/finetune_$s.yaml" ] || { echo "no conf/finetune_$s.yaml for strategy '$s'" >&2; exit 1; }
  python -m speechproc.bin.train "conf/finetune_$s.yaml" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
    --output_folder "exp/finetune_$s" --train_data "data/$train_set$sfx" --valid_data "data/$valid_set$sfx" \
    --whisper "$whisper" --window_seconds "$window_seconds" "${quick[@]}" $train_args
done
