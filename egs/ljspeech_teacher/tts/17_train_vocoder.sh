#!/usr/bin/env bash
# GAN vocoder training on the teacher audio and its mels ($voc_config) into exp/$voc_exp
# outputs: exp/$voc_exp/model.pt
python -m speechproc.bin.train "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$voc_exp" --train_data dump/train --valid_data dump/dev
