#!/usr/bin/env bash
# fine-tuning with one-word clips of the training set added (${train_word_clips} clips cut at the CTC alignment): strategies "${word_strategies}" into exp/finetune_<strategy>_words
# outputs: $(for s in $word_strategies; do echo exp/finetune_${s}_words/model.pt; done)
[ -n "$word_strategies" ] || { echo "word_strategies is empty: no fine-tuning with word clips"; exit 0; }
sfx=""; epochs=(--number_of_epochs "$word_epochs"); [ "$profile" = quick ] && { sfx=_quick; epochs=(--number_of_epochs 1); }
head=(); [ -f "exp/align_test$sfx/ctc_head.pt" ] && head=(--ctc-head "exp/align_test$sfx/ctc_head.pt")   # the head stage 8 fitted
python -m speechproc.bin.align_words --exp-dir "exp/$align_exp" "${head[@]}" --data "data/$train_set$sfx" "exp/align_$train_set$sfx"
python -m speechproc.bin.cut_words --data "data/$train_set$sfx" --ctm "exp/align_$train_set$sfx/ctm" --context "$word_context" "data/${train_set}_words_all$sfx"
n=$train_word_clips; [ "$profile" = quick ] && n=10
python -m speechproc.bin.subset_data_dir --random "$n" "data/${train_set}_words_all$sfx" "data/${train_set}_words$sfx"
python -m speechproc.bin.combine_data_dir "data/${train_set}_mix$sfx" "data/$train_set$sfx" "data/${train_set}_words$sfx"
for s in $word_strategies; do
  python -m speechproc.bin.train "conf/finetune_$s.yaml" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
    --output_folder "exp/finetune_${s}_words" --train_data "data/${train_set}_mix$sfx" --valid_data "data/$valid_set$sfx" \
    --whisper "$whisper" --window_seconds "$window_seconds" "${epochs[@]}" $train_args
done
