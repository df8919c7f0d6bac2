#!/usr/bin/env bash
# AN4 (CMU census database) speech recognition, ESPnet's egs2/an4/asr1 splits.
# Stages:
#   1  data preparation: data/{train_nodev,train_dev,test} with utt2dur (audio checked in nj jobs)
#   2  speed perturbation 0.9/1.0/1.1: data/train_nodev_sp
#   3  features: 80-dim Kaldi fbank dumps (dump/) + global CMVN stats
#   4  tokenizer: sentencepiece BPE 30 (data/token/bpe30)
#   5  LM training: Transformer token LM (exp/lm)
#   6  LM perplexity on test (exp/lm/perplexity_test)
#   7  ASR training: joint CTC/attention Conformer (exp/asr_conformer)
#   8  decoding: beam search without / with LM, JOB=1:nj (exp/asr_conformer/decode_test_beam[_lm])
#   9  scoring: WER/CER result.txt per decode dir, exp/RESULTS.md
#  10  ONNX export of the encoder + CTC head, PyTorch vs ONNX Runtime on test (exp/asr_conformer/onnx, README)
#  11  streaming ASR training: Conformer with dynamic chunk training (exp/asr_streaming)
#  12  streaming decoding at 160/320/640 ms chunks and full context: WER, latency, RTF (README section streaming)
#  13  beam search speed without and with the LM: the project's search against SpeechBrain's on the same model (README sections decode_speed, decode_speed_lm)
#  14  training speed: one epoch on a subset with 1 thread, 2 threads and 2 processes (README section train_speed)
. "$(dirname "$0")/../../../tools/recipe.sh"

num_dev=100   # utterances of train held out as train_dev (ESPnet: the first 100)
train_set=train_nodev            # training data dir (speed-perturbed into <train_set>_sp)
valid_set=train_dev              # validation data dir
test_sets=test                   # data dirs to decode (space separated)
speed_factors="0.9 1.0 1.1"      # speed perturbation factors
token_type=bpe                   # bpe, unigram, char or word
nbpe=30                          # token list size for bpe/unigram
asr_exp=asr_conformer            # exp/<asr_exp>
asr_config=""                    # ASR config; empty: conf/train_asr_conformer.yaml (full) or conf/train_asr_debug.yaml (quick)
lm_config=""                     # LM config; empty: conf/train_lm.yaml (full) or conf/train_lm_debug.yaml (quick)
lm_extra_text=""                 # extra LM text files, comma separated (e.g. LJSpeech metadata_full_text.csv)
use_lm=true                      # also decode with LM shallow fusion
decode_config=conf/decode_asr.yaml       # decode settings without LM
lm_decode_config=conf/decode_asr_lm.yaml # decode settings with LM
train_args=                      # extra speechproc.bin.train options (yaml overrides), e.g. "--number_of_epochs 5 --lr 0.001"
decode_args=                     # extra speechproc.bin.decode_asr options, e.g. "--beam-size 20 --ctc-weight 0.5"
lm_args=                         # extra speechproc.bin.train options of the LM, e.g. "--number_of_epochs 10"
onnx_threads=2                   # stages 10, 12: intra-op threads of the ONNX and streaming benchmarks
streaming_exp=asr_streaming      # stage 11: exp/<streaming_exp>
streaming_config=""              # stage 11: empty: conf/train_asr_streaming.yaml (full) or conf/train_asr_streaming_debug.yaml (quick)
streaming_train_args=            # stage 11: extra speechproc.bin.train options, e.g. "--number_of_epochs 20"
streaming_chunks=160,320,640,full  # stage 12: chunk sizes (ms, multiples of 40) and full context
train_speed_settings="threads=1 threads=2 nproc=2"   # stage 14: core settings timed (threads=K: one process; nproc=N)
speed_train_utts=300             # stage 14: training utterances of the timed epoch
speed_exp=asr_streaming          # stage 13: the joint CTC/attention model whose beam search is timed (exp/<speed_exp>)
recipe_main "$@"
