#!/usr/bin/env bash
# short spoken commands: AN4 test cut into one-word clips at the CTC alignment of ${align_exp}, the clips band-limited to 8 kHz, and clips without speech
# outputs: data/test_words${profile_suffix}/text data/test_words_8k${profile_suffix}/text data/nonspeech/wav.scp
sfx=""; [ "$profile" = quick ] && sfx=_quick
aexp=${align_exp:-../asr/exp/asr_conformer$profile_suffix}
[ -f "$aexp/model.pt" ] || { echo "stage 8 aligns with the CTC/attention model $aexp/model.pt: train it first (egs/an4/asr: bash run.sh --stop-stage 7), or set --align-exp" >&2; exit 1; }
python -m speechproc.bin.align_words --exp-dir "$aexp" --data "data/test$sfx" "exp/align_test$sfx"
python -m speechproc.bin.cut_words --data "data/test$sfx" --ctm "exp/align_test$sfx/ctm" --context "$word_context" "data/test_words$sfx"
python -m speechproc.bin.cut_words --data "data/test$sfx" --ctm "exp/align_test$sfx/ctm" --context "$word_context" --band-limit 8000 "data/test_words_8k$sfx"
python -m speechproc.bin.make_nonspeech_data data/nonspeech
