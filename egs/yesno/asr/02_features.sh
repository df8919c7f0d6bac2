#!/usr/bin/env bash
# features: 40-dim Kaldi fbank (8 kHz) dumped for train and test, global CMVN stats of train
# outputs: dump/train/feats.scp dump/test/feats.scp dump/train/cmvn.npz
python -m speechproc.bin.compute_fbank --nj "$nj" --fbank-config conf/fbank.yaml --cmvn-stats dump/train/cmvn.npz \
  data/train dump/train data/test dump/test
