#!/usr/bin/env bash
# features: 80-dim Kaldi fbank dumped for the training/validation/test sets, global CMVN stats of the training set
# outputs: dump/${train_set}/feats.scp dump/${train_set}/cmvn.npz dump/${valid_set}/feats.scp
for s in "$train_set" "$valid_set" $test_sets; do
  python -m speechproc.bin.compute_fbank --nj "$nj" "data/$s" "dump/$s"
done
python -m speechproc.bin.compute_cmvn_stats "dump/$train_set" "dump/$train_set/cmvn.npz"
