#!/usr/bin/env bash
# text cleaning and token list: characters of the english-cleaned training text (data/token/char)
# outputs: data/token/char/tokens.txt
python -m speechproc.bin.train_tokenizer --type char --cleaner english data/train data/token/char
