#!/usr/bin/env bash
# LibriSpeech speech recognition (for users who have the corpus; not shipped here).
# Stages:
#   1  data preparation: one data dir per part (dev-clean -> data/dev_clean) with utt2dur
#   2  features: 80-dim Kaldi fbank dumps + global CMVN stats of the training set
#   3  tokenizer: sentencepiece BPE 5000 (data/token/bpe5000)
#   4  ASR training: joint CTC/attention Conformer (exp/asr_conformer)
#   5  decoding: joint CTC/attention beam search of the test sets, JOB=1:nj
#   6  scoring: WER/CER result.txt per decode dir, exp/RESULTS.md
. "$(dirname "$0")/../../../tools/recipe.sh"

parts="train-clean-100 dev-clean test-clean"   # LibriSpeech parts to prepare (space separated)
train_set=train_clean_100       # training data dir
valid_set=dev_clean             # validation data dir
test_sets="dev_clean test_clean"  # data dirs to decode (space separated)
token_type=bpe                  # bpe, unigram, char or word
nbpe=5000                       # token list size for bpe/unigram
asr_exp=asr_conformer           # exp/<asr_exp>
asr_config=""                   # ASR config; empty: conf/train_asr_conformer.yaml (full) or conf/train_asr_debug.yaml (quick)
decode_config=conf/decode_asr.yaml  # decode settings
train_args=                      # extra speechproc.bin.train options (yaml overrides), e.g. "--number_of_epochs 5 --lr 0.001"
decode_args=                     # extra speechproc.bin.decode_asr options, e.g. "--beam-size 20 --ctc-weight 0.5"
recipe_main "$@"
