#!/usr/bin/env bash
# mel features: 80-bin log-mel (resampled to 22.05 kHz) and frame-level F0 (FastSpeech 2's pitch target) of train/dev/eval, normalisation stats of train
# outputs: dump/train/feats.scp dump/dev/feats.scp dump/eval/feats.scp dump/train/cmvn.npz dump/train/pitch_stats.json
python -m speechproc.bin.compute_mel --mel-config conf/mel.yaml --nj "$nj" --cmvn-stats dump/train/cmvn.npz --pitch \
  data/train dump/train data/dev dump/dev data/eval dump/eval
