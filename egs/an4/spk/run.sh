#!/usr/bin/env bash
# AN4 speaker embeddings: a small ECAPA-TDNN (AAM-softmax) trained on the 74 AN4 training speakers, for
# speaker verification and the speaker-similarity figure of voice-conversion evaluation.
# Stages:
#   1  data preparation: data/{train,test}; 2 utterances per training speaker held out: data/{train_spk,dev_spk}
#   2  features: 80-dim Kaldi fbank dumps (dump/) + global CMVN stats of dump/train_spk
#   3  training: ECAPA-TDNN speaker classifier on 2 s crops (exp/<spk_exp>)
#   4  evaluation: identification accuracy on dev_spk, verification EER on all test pairs (exp/<spk_exp>/eval_*)
. "$(dirname "$0")/../../../tools/recipe.sh"

num_dev_per_spk=2        # utterances of every training speaker held out as dev_spk (validation)
holdout_seed=0           # random choice of the held-out utterances
train_set=train_spk      # training data dir
valid_set=dev_spk        # validation data dir (held-out utterances of the training speakers)
test_sets=test           # verification sets (new speakers; space separated)
spk_exp=ecapa            # exp/<spk_exp> (--profile quick: exp/<spk_exp>_quick, so a quick run never touches the full model)
spk_config=""            # training config; empty: conf/train_ecapa.yaml (full) or conf/train_ecapa_debug.yaml (quick)
max_trials=""            # verification: a fixed random sample of this many pairs (empty: all pairs)
recipe_main "$@"
