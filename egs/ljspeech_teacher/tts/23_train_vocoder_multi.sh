#!/usr/bin/env bash
# multi-speaker GAN vocoder: exp/$voc_exp fine-tuned on the teacher audio plus real speech of 78 speakers (AN4 train, VCC 2016 training clips) into exp/${voc_exp}_multi
# LJSpeech and every evaluation clip (AN4 test, VCC 2016 evaluation_all) stay out, so stage 24 measures unseen speakers
# outputs: exp/${voc_exp}_multi/model.pt
. ./db.sh
python -m speechproc.bin.prepare_data an4 data/voc_an4
python -m speechproc.bin.prepare_data vcc2016 data/voc_vcc
python -m speechproc.bin.combine_data_dir --no-text data/voc_real data/voc_an4/train \
  data/voc_vcc/SF1_train data/voc_vcc/SM1_train data/voc_vcc/TF1_train data/voc_vcc/TM1_train
python -m speechproc.bin.compute_mel --mel-config conf/mel.yaml --nj "$nj" data/voc_real dump/voc_real
python -m speechproc.bin.combine_data_dir --no-text dump/voc_multi dump/train dump/voc_real
python -m speechproc.bin.train "$voc_config" --nproc "$nproc" --cmd "$cmd" --cmd-conf "$cmd_conf" \
  --output_folder "exp/${voc_exp}_multi" --train_data dump/voc_multi --valid_data dump/dev \
  --init_model "exp/$voc_exp/model.pt" --number_of_epochs "$voc_multi_epochs" --lr "$voc_multi_lr"
