#!/usr/bin/env bash
# tokenizer: ${token_type} (${nbpe} units for bpe/unigram) trained on the training transcripts
# outputs: data/token/${token_type}${nbpe}/tokens.txt
python -m speechproc.bin.train_tokenizer --type "$token_type" --vocab-size "$nbpe" \
  "data/$train_set" "data/token/${token_type}${nbpe}"
