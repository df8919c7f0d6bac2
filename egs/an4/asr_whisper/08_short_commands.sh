#!/usr/bin/env bash
# short spoken commands: AN4 test cut into one-word clips at the CTC alignment of exp/${align_exp} (a CTC head fitted on its encoder), the clips band-limited to 8 kHz, and clips without speech
# outputs: data/test_words${profile_suffix}/text data/test_words_8k${profile_suffix}/text data/nonspeech/wav.scp
sfx=""; [ "$profile" = quick ] && sfx=_quick
[ -f "exp/$align_exp/model.pt" ] || { echo "stage 8 aligns with exp/$align_exp/model.pt: run stage 3 first, or set --align-exp" >&2; exit 1; }
python -m speechproc.bin.align_words --exp-dir "exp/$align_exp" --fit-ctc-on "data/$train_set$sfx" --data "data/test$sfx" "exp/align_test$sfx"
python -m speechproc.bin.cut_words --data "data/test$sfx" --ctm "exp/align_test$sfx/ctm" --context "$word_context" "data/test_words$sfx"
python -m speechproc.bin.cut_words --data "data/test$sfx" --ctm "exp/align_test$sfx/ctm" --context "$word_context" --band-limit 8000 "data/test_words_8k$sfx"
python -m speechproc.bin.make_nonspeech_data data/nonspeech
