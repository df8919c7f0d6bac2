#!/usr/bin/env bash
# features: 80-dim Kaldi fbank dumps of every set, global CMVN stats of the training set
# outputs: dump/${train_set}/feats.scp dump/${train_set}/cmvn.npz
for s in $(printf '%s\n' "$train_set" "$valid_set" $test_sets | LC_ALL=C sort -u); do
  python -m speechproc.bin.compute_fbank --nj "$nj" "data/$s" "dump/$s"
done
python -m speechproc.bin.compute_cmvn_stats "dump/$train_set" "dump/$train_set/cmvn.npz"
