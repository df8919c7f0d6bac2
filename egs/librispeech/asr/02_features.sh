#!/usr/bin/env bash
# features: 80-dim Kaldi fbank dumps of every set, global CMVN stats of the training set
# outputs: dump/${train_set}/feats.scp dump/${train_set}/cmvn.npz
python -m speechproc.bin.compute_fbank --nj "$nj" --cmvn-stats "dump/$train_set/cmvn.npz" \
  $(printf '%s\n' "$train_set" "$valid_set" $test_sets | awk '!seen[$0]++ { print "data/" $0, "dump/" $0 }')
