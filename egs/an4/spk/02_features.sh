#!/usr/bin/env bash
# features: 80-dim Kaldi fbank dumped for the training/validation/test sets, global CMVN stats of the training set
# outputs: dump/${train_set}/feats.scp dump/${train_set}/cmvn.npz dump/${valid_set}/feats.scp
python -m speechproc.bin.compute_fbank --nj "$nj" --cmvn-stats "dump/$train_set/cmvn.npz" \
  $(for s in "$train_set" "$valid_set" $test_sets; do echo "data/$s dump/$s"; done)
