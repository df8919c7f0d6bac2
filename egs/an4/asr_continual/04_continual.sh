#!/usr/bin/env bash
# the period sequence for every method: exp/<method>/v<N> after period N, each evaluated on the whole suite (a period already done is skipped)
# outputs: $(set -- $periods; for m in $methods; do echo exp/$m/v$#/card.json; done)
shopt -s nullglob
for m in $methods; do
  k=0
  for spec in $periods; do
    k=$((k + 1))
    IFS=: read -r name train dev ep flag <<< "$spec"
    cards=(exp/"$m"/v*/card.json)
    [ "${#cards[@]}" -ge "$k" ] && { echo "$m: period $k ($name) done"; continue; }
    extra=(); [ "$flag" = resample ] && extra=(--resample)
    [ "$profile" = quick ] && ep=1
    python -m speechproc.bin.continual_finetune --model-dir "exp/$m" --method "$m" --methods conf/methods.yaml \
      --config conf/finetune.yaml --new-data "$train" --valid-data "$dev" --period "$name" --base "$whisper" \
      --window-seconds "$window_seconds" --eval $suite --zeroshot exp/zeroshot --tolerance "$tolerance" \
      --train-args "--number_of_epochs $ep $train_args" --cmd "$cmd" --cmd-conf "$cmd_conf" --nproc "$nproc" "${extra[@]}"
  done
done
