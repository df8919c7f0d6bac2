#!/usr/bin/env bash
# GAN vocoder fine-tuned on the 25 real LJSpeech adaptation clips ($voc_ft_epochs epochs from exp/$voc_exp) into exp/${voc_exp}_lj
# outputs: exp/${voc_exp}_lj/model.pt
python -m speechproc.bin.train "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/${voc_exp}_lj" --train_data dump/lj_train --valid_data dump/lj_dev \
  --init_model "exp/$voc_exp/model.pt" --number_of_epochs "$voc_ft_epochs" --lr "$voc_ft_lr"
