#!/usr/bin/env bash
# GAN vocoder training on the teacher audio and its mels ($voc_config) into exp/$voc_exp
# $voc_train_args (e.g. "--number_of_epochs 20") reaches the trainer unchanged; a run stopped early resumes from
# its last checkpoint, so a smaller --number_of_epochs finishes it at the last completed epoch
# outputs: exp/$voc_exp/model.pt
python -m speechproc.bin.train "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/$voc_exp" --train_data dump/train --valid_data dump/dev $voc_train_args
