#!/usr/bin/env bash
# tokenizer: word tokens (YES, NO) from the training transcripts
# outputs: data/token/word/tokens.txt
python -m speechproc.bin.train_tokenizer --type word data/train data/token/word
