#!/usr/bin/env bash
# mel features: 80-bin log-mel (22.05 kHz, 1024 FFT, hop 256) dumps and normalisation stats of the training set
# outputs: dump/$train_set/feats.scp dump/$valid_set/feats.scp dump/$train_set/cmvn.npz
python -m speechproc.bin.compute_mel --mel-config conf/mel.yaml --nj "$nj" --cmvn-stats "dump/$train_set/cmvn.npz" \
  "data/$train_set" "dump/$train_set" "data/$valid_set" "dump/$valid_set"
