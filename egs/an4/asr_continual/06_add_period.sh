#!/usr/bin/env bash
# one more period for one method: the latest version of exp/$method fine-tuned on $new_data into the next version, with its card and the suite's results
if [ -z "$new_data" ]; then echo "no --new-data given: no period to add"; exit 0; fi
[ -n "$method" ] && [ -n "$valid_data" ] || { echo "stage 6 needs --method M and --valid-data DIR with --new-data" >&2; exit 1; }
python -m speechproc.bin.continual_finetune --model-dir "exp/$method" --method "$method" --methods conf/methods.yaml \
  --config conf/finetune.yaml --new-data "$new_data" --valid-data "$valid_data" ${period_name:+--period "$period_name"} \
  --base "$whisper" --window-seconds "$window_seconds" --eval $suite --zeroshot exp/zeroshot --tolerance "$tolerance" \
  --train-args "--number_of_epochs $epochs $train_args" --cmd "$cmd" --cmd-conf "$cmd_conf" --nproc "$nproc" \
  --table exp/RESULTS.md --table-methods $methods --plot exp/general_wer.png
