#!/usr/bin/env bash
# yesno (OpenSLR SLR1) speech recognition: 60 recordings of 8 Hebrew yes/no words, one speaker.
# Stages:
#   1  data preparation: data/{train,test} (30/30) with utt2dur
#   2  features: 40-dim Kaldi fbank dumps + global CMVN stats (dump/)
#   3  tokenizer: word tokens (data/token/word)
#   4  ASR training: toy Conformer CTC/attention (exp/asr)
#   5  decoding: joint CTC/attention beam search of test (exp/asr/decode_test), JOB=1:nj
#   6  scoring: WER/CER reports and exp/RESULTS.md
#   7  ONNX export of the encoder + CTC head, PyTorch vs ONNX Runtime on test (exp/asr/onnx, README)
. "$(dirname "$0")/../../../tools/recipe.sh"

asr_config=conf/train_asr.yaml        # ASR training config (same for --profile quick and full)
decode_config=conf/decode_asr.yaml    # decode settings (beam size, CTC weight, ...)
train_args=                      # extra speechproc.bin.train options (yaml overrides), e.g. "--number_of_epochs 5 --lr 0.001"
decode_args=                     # extra speechproc.bin.decode_asr options, e.g. "--beam-size 20 --ctc-weight 0.5"
onnx_threads=2                   # stage 7: intra-op threads of both runtimes in the ONNX benchmark
recipe_main "$@"
