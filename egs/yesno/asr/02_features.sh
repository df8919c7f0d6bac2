#!/usr/bin/env bash
# features: 40-dim Kaldi fbank (8 kHz) dumped for train and test, global CMVN stats of train
# outputs: dump/train/feats.scp dump/test/feats.scp dump/train/cmvn.npz
for s in train test; do
  python -m speechproc.bin.compute_fbank --nj "$nj" --fbank-config conf/fbank.yaml "data/$s" "dump/$s"
done
python -m speechproc.bin.compute_cmvn_stats dump/train dump/train/cmvn.npz
